"""The dashboard: the farm at a glance in a browser, served by `binfarm serve` itself."""
