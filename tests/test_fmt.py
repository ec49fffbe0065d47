"""How the lab writes numbers, durations and a visitor's text on its pages (ui/fmt.py)."""

import pytest

from ui.fmt import fmt_duration, plain

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.04, "0.0s"), (0.3, "0.3s"), (9.94, "9.9s"), (9.96, "10s"), (75, "1m 15s"), (None, "–")]
)
def test_short_durations_keep_a_tenth_of_a_second(seconds, text):
    """A run of 0.3 s "took 0s"."""
    assert fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://e.x/y", "http\\:" + ZWSP + "//e\\.x/y"),
        ("me a@b.com", "me a\\@" + ZWSP + "b\\.com"),
        (":red[alarm]", "\\:" + ZWSP + "red\\[alarm\\]"),
        (":material/home: here", "\\:" + ZWSP + "material/home\\: here"),
        ("www.e.x", "w" + ZWSP + "ww\\.e\\.x"),
    ],
)
def test_a_visitors_links_icons_and_colours_are_broken_by_a_zero_width_space(text, shown):
    """Checked in Chromium too: none of these renders as a link, an icon or a colour once through plain()."""
    assert plain(text) == shown


@pytest.mark.parametrize("text", ["column 27: expected ':'", "Applied from the next batch: lr", "ends with:", "a@ b"])
def test_a_colon_that_ends_a_phrase_keeps_no_zero_width_space(text):
    """It was copied with every message ("column 27:\\u200b expected ':\\u200b'")."""
    assert ZWSP not in plain(text)
