"""The fleet machine's side: register with a farm, sync its shared config, update from it.

Everything acts on the machine's own Portage, found as Portage finds it
(PORTAGE_CONFIGROOT, EPREFIX), so a Gentoo Prefix works exactly as / does.
"""
