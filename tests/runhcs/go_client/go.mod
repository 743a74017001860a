module pyhcs.test/goclient

go 1.19
