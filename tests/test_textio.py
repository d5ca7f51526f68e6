"""textio.numbered_lines() reads a file a chunk at a time and gives exactly the lines of the whole
text's splitlines(), whatever the encoding, line breaks and chunk boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phishtrace import textio
from phishtrace.errors import InputError

PIECES = ["a", "é", "\u20ac", "𝄞", ",", " ", "\n", "\r", "\r\n", "\x0b", "\x85", "\u2028", "\ufeff"]


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       chunk=st.integers(min_value=1, max_value=9))
def test_numbered_lines_equal_splitlines_of_the_whole_text(tmp_path_factory, text, encoding, chunk):
    path = tmp_path_factory.mktemp("t") / "f.txt"
    path.write_bytes(text.encode(encoding))
    whole = textio.read_text(path).splitlines()
    assert list(textio.numbered_lines(path, chunk_bytes=chunk)) == list(enumerate(whole, start=1))


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_a_decoding_error_names_its_line(tmp_path, chunk):
    path = tmp_path / "f.log"
    path.write_bytes(b"line one\nline two\nbad \xff here\nline four\n")
    with pytest.raises(InputError) as err:
        list(textio.numbered_lines(path, chunk_bytes=chunk))
    assert err.value.line == 3 and "utf-8" in str(err.value)
