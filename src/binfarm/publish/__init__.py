"""Publishing: each channel's index built once per change and cached (`indexes`), and
written out as a plain tree (`tree`) that nginx, NFS, rsync, FTP and file:// serve as is,
kept up to date by `publisher` and served by the nginx configuration `nginx` prints."""
