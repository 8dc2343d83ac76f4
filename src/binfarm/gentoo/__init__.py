"""The Portage adapter: the only part of binfarm that knows how to drive Portage.

`helper` runs in a child process and is the only module that imports portage; `pool`
calls it from the parent; `configroot` writes the files of a node; `emerge` runs builds.
"""
