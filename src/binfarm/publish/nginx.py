"""The nginx configuration that serves the published tree under the farm's own URLs
(`/binhost/<profile>/` stable, `/binhost/<profile>/testing/`): a `server` block (and
a `map`) to drop into the http block of an nginx the admin runs already (`binfarm publish
--nginx-config`).

Where the farm requires binhost credentials, nginx asks the farm for each request
(`auth_request`): the farm checks the token, as for its own binhost, including that a
host's token reads only its own profile. No password file to keep in step with tokens.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["nginx_server_block"]

_PROFILE = r"(?<profile>[A-Za-z0-9][A-Za-z0-9._-]*)"


def nginx_server_block(root: Path, listen: str, farm_url: str, *, auth: bool) -> str:
    check = "        auth_request /.binfarm-auth;\n" if auth else ""
    locations = "".join(
        f"    location ~ ^/binhost/{_PROFILE}/{prefix}(?<rest>.*)$ {{\n"
        f"        alias {root}/$profile/{prefix}current/$rest;\n{check}"
        "    }\n" for prefix in ("testing/", ""))
    # auth_request takes a fixed URI; the profile comes from the client's own request.
    profile_of = (
        "map $request_uri $binfarm_profile {\n"
        f'    "~^/binhost/{_PROFILE.replace("profile", "p")}/" $p;\n'
        '    default "-";\n'
        "}\n") if auth else ""
    asker = (
        "    location = /.binfarm-auth {\n"
        "        internal;\n"
        f"        proxy_pass {farm_url.rstrip('/')}/binhost/$binfarm_profile/.binfarm-auth;\n"
        "        proxy_pass_request_body off;\n"
        '        proxy_set_header Content-Length "";\n'
        "        proxy_set_header Authorization $http_authorization;\n"
        "    }\n") if auth else ""
    return (
        "# binfarm's published binhosts as plain files (binfarm publish --nginx-config),\n"
        "# for the http block of nginx.conf (conf.d/). nginx's user must be able to read\n"
        f"# {root} and enter every directory above it.\n"
        f"{profile_of}"
        "server {\n"
        f"    listen {listen};\n"
        "    sendfile on;\n"
        "    tcp_nopush on;\n"
        "    # Portage asks with If-Modified-Since = its TIMESTAMP + 5 s; generations are at\n"
        "    # least 6 s apart, so nginx's exact comparison never hides a new one.\n"
        "    if_modified_since exact;\n"
        "    default_type application/octet-stream;\n"
        f"{locations}{asker}"
        "}\n")
