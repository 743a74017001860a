module pyhcs.invalid/benchmarks/gopeer

go 1.19
