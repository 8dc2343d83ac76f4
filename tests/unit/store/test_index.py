from binfarm.store.index import entries_digest, instance_path, render_index


def test_render_index_is_portage_shaped() -> None:
    entries = [
        {"CPV": "app-misc/hello-1.0", "BUILD_ID": "2", "USE": "amd64", "PATH": "b", "LDFLAGS": ""},
        {"CPV": "app-misc/hello-1.0", "BUILD_ID": "10", "USE": "", "PATH": "c"},
        {"CPV": "app-misc/abc-1.0", "BUILD_ID": "1", "PATH": "a"},
    ]
    text = render_index({"CHOST": "x86_64-pc-linux-gnu"}, entries, timestamp=1700000000)
    blocks = text.split("\n\n")
    assert blocks[0] == ("CHOST: x86_64-pc-linux-gnu\nPACKAGES: 3\nTIMESTAMP: 1700000000\n"
                         "VERSION: 0")
    assert blocks[1] == "BUILD_ID: 1\nCPV: app-misc/abc-1.0\nPATH: a"
    assert blocks[2] == "BUILD_ID: 2\nCPV: app-misc/hello-1.0\nPATH: b\nUSE: amd64"  # empty out
    assert blocks[3] == "BUILD_ID: 10\nCPV: app-misc/hello-1.0\nPATH: c"  # numeric BUILD_ID
    assert text.endswith("\n\n")


def test_digest_follows_content_not_order() -> None:
    a = {"CPV": "a/b-1", "BUILD_ID": "1"}
    b = {"CPV": "a/c-1", "BUILD_ID": "1"}
    assert entries_digest([a, b]) == entries_digest([b, a])
    assert entries_digest([a]) != entries_digest([a, b])
    assert entries_digest([a]) != entries_digest([{**a, "USE": "x"}])


def test_instance_path_is_unique_by_content_and_named_like_portage() -> None:
    sha = "ab" * 32
    assert instance_path("app-misc/hello-1.0-r1", 3, sha, ".gpkg.tar") == \
        f"app-misc/hello/{sha[:16]}/hello-1.0-r1-3.gpkg.tar"
    assert instance_path("media-fonts/font-adobe-100dpi-1.0.4", None, sha, ".xpak") == \
        f"media-fonts/font-adobe-100dpi/{sha[:16]}/font-adobe-100dpi-1.0.4.xpak"
    assert instance_path("dev-libs/foo-2_rc3-r2", 1, sha, ".gpkg.tar") == \
        f"dev-libs/foo/{sha[:16]}/foo-2_rc3-r2-1.gpkg.tar"
