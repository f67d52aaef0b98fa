"""Stand-in servers for the remote backends: real HTTP servers on 127.0.0.1 for the tests."""
