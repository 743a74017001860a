# pytester runs a pytest session of its own (tests/test_leak_check.py), to watch the plugin fail a leaking test.
pytest_plugins = ["pytester"]
