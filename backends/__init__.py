"""tixcli's built-in backends (installed as ``tixcli.backends``): one module per backend."""
