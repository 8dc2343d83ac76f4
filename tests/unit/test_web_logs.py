"""A build log as the dashboard reads it: complete lines by byte offset, and as HTML."""

from __future__ import annotations

from pathlib import Path

from binfarm.web.ansi import to_html
from binfarm.web.logs import next_lines, phases, tail


def test_lines_by_offset(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"one\ntwo\nthr")
    assert next_lines(log, 0) == ("one\ntwo\n", 8)
    assert next_lines(log, 8) == ("", 8)  # a line still being written waits
    assert next_lines(log, 99) == ("", 11)  # an offset past the end is clamped
    assert next_lines(tmp_path / "none", 0) == ("", 0)


def test_a_long_line_comes_in_pieces_cut_between_characters(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(("é" * 100).encode() + b"\n")
    text, end = next_lines(log, 0, limit=51)
    assert text == "é" * 25 and end == 50
    rest, end = next_lines(log, end, limit=1000)
    assert text + rest == "é" * 100 + "\n" and end == 201


def test_tail_starts_at_a_whole_line(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_bytes(b"".join(f"line {i}\n".encode() for i in range(100)))
    text, end, size = tail(log, 30)
    assert text.startswith("line 9") and text.endswith("line 99\n") and end == size


def test_colours_and_escaping() -> None:
    portage = ">>> \x1b[32;01m*\x1b[39;49;00m <ok> & done\n"
    assert to_html(portage) == '&gt;&gt;&gt; <span class="fg-green bold">*</span> ' \
        '&lt;ok&gt; &amp; done\n'
    assert to_html("50%\r100%\n") == "100%\n"
    assert to_html("\x1b[1mbold\x1b[0m plain\x1b[K\n") == '<span class="bold">bold</span> plain\n'


def test_phases_are_portages_own_lines_with_their_offsets(tmp_path: Path) -> None:
    log = tmp_path / "log"
    lines = [b">>> Emerging (1 of 1) app-misc/hello-1.0::example\n", b"checking...\n",
             b"\x1b[32;01m>>>\x1b[39;49;00m Compiling source in /w/hello-1.0 ...\n",
             b">>> /usr/bin/hello\n", b">>> Completed installing app-misc/hello-1.0\n"]
    log.write_bytes(b"".join(lines))
    found = phases(log)
    assert [line for line, _ in found] == [
        "Emerging (1 of 1) app-misc/hello-1.0::example",
        "Compiling source in /w/hello-1.0 ...", "Completed installing app-misc/hello-1.0"]
    data = log.read_bytes()
    assert [data[at:].split(b"\n")[0] for _, at in found] == [
        lines[0].rstrip(), lines[2].rstrip(), lines[4].rstrip()]
    assert phases(tmp_path / "none") == []
