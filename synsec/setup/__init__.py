"""Assisted setup (`synsec setup`): what runs on a host and the plan that follows from it.

`services` is the data (service → evidence → collection → log paths), `root` reads a host below a root directory,
`logpaths` reads log paths from services' configs, `detect` finds the services, `plan` (pure) turns them into
collections and an acquisition file, `units` renders the systemd units, `files` writes without clobbering.
"""
