"""Ink readers and writers: UNIPEN (.INCLUDE, .SEGMENT, pen-up components), InkML, JSON; errors name file and line."""

import numpy as np
import pytest

from unroll.data.ink import (Ink, InkFormatError, parse_inkml, parse_json_ink, read_ink, read_unipen,
                             write_inkml, write_json_ink)
from unroll.data.ink.inkml import inkml_text
from unroll.data.ink.unipen import parse_unipen
from unroll.handwriting.shipped import SAMPLE_FILES, SAMPLE_INK

UNIPEN = SAMPLE_FILES[0]


def test_unipen_fixture_resolves_include_by_walking_up_and_reads_segments():
    doc = read_unipen(UNIPEN)
    assert [w.label for w in doc.words] == ["freshman", "physics", "would", "campus", "science"]
    assert [len(w.strokes) for w in doc.words] == [2, 3, 3, 2, 5]
    assert doc.meta["WRITER_ID"] == "isk" and doc.meta["POINTS_PER_SECOND"] == "200"
    # the pen-up component (3 points in the air) is numbered but carries no ink
    assert doc.ink.num_points == sum(w.num_points for w in doc.words)
    assert read_unipen(UNIPEN, include_dir=SAMPLE_INK / "unipen" / "include").words[2].label == "would"


def test_unipen_component_numbering_point_ranges_and_y_scale():
    text = """.COORD X Y
.X_POINTS_PER_INCH 100
.Y_POINTS_PER_INCH 50
.SEGMENT WORD 0-1 ? "ab"
.SEGMENT WORD 3,5 OK "cd"
.SEGMENT WORD 5:1-6:0 OK "e"
.PEN_DOWN
0 0
1 1
.PEN_UP
.PEN_DOWN
2 2
.PEN_UP
.PEN_UP
.PEN_DOWN
3 3
.PEN_UP
10 10
.PEN_DOWN
4 4
5 5
6 6
.PEN_UP
.PEN_DOWN
7 7
8 8
"""
    doc = parse_unipen(text, "inline")
    ab, cd, e = doc.words
    assert [len(s) for s in ab.strokes] == [2, 1]
    # component 2 is the empty pen-up after a pen-up, 3 the third pen-down, 4 the pen-up with a point
    assert cd.strokes[0].tolist() == [[3.0, 6.0]] and cd.strokes[1].tolist() == [[4, 8], [5, 10], [6, 12]]
    assert [s.tolist() for s in e.strokes] == [[[5, 10], [6, 12]], [[7, 14]]]
    assert doc.ink.num_points == 9


@pytest.mark.parametrize("text, message", [
    (".PEN_DOWN\n1 2\n.FOO bar\n", "inline:3: unsupported UNIPEN keyword .FOO"),
    (".PEN_DOWN\n1 x\n", "inline:2: expected a point"),
    ('.PEN_DOWN\n1 2\n.SEGMENT WORD 0-4 ? "a"\n', "inline:3: .SEGMENT components 0-4: the file has 1"),
    ('.SEGMENT WORD 0~2 ? "a"\n', "inline:1: .SEGMENT range '0~2'"),
    (".COORD Y X\n", "inline:1: .COORD 'Y X': only coordinates starting with X Y"),
    (".INCLUDE nowhere.doc\n", "inline:1: .INCLUDE nowhere.doc"),
])
def test_unipen_errors_name_file_and_line(text, message, tmp_path):
    with pytest.raises(InkFormatError) as e:
        parse_unipen(text, "inline", include_dir=tmp_path)
    assert str(e.value).startswith(message)


def test_unipen_include_without_include_folder(tmp_path):
    path = tmp_path / "w.dat"
    path.write_text(".INCLUDE header.doc\n")
    with pytest.raises(InkFormatError, match=r"w.dat:1: .INCLUDE header.doc: no include folder"):
        read_unipen(path)


def test_inkml_fixture_and_round_trip(tmp_path):
    doc = read_ink(SAMPLE_INK / "ber-words.inkml")
    assert [w.label for w in doc.words] == ["were", "when", "MORE", "ABOUT", "Into"]
    write_inkml(doc.words, tmp_path / "again.inkml")
    again = read_ink(tmp_path / "again.inkml")
    assert [w.label for w in again.words] == [w.label for w in doc.words]
    for a, b in zip(again.words, doc.words):
        for s, t in zip(a.strokes, b.strokes):
            np.testing.assert_allclose(s, t, rtol=1e-5)


def test_inkml_difference_encodings_trace_views_and_y_down():
    doc = parse_inkml("""<ink xmlns="http://www.w3.org/2003/InkML">
  <traceFormat><channel name="X"/><channel name="Y"/><channel name="T"/></traceFormat>
  <trace id="a">10 0 0, '1 1 5, "1 0 9, 2 2 9</trace>
  <traceGroup><annotation type="truth">hi</annotation><traceView traceDataRef="#a"/></traceGroup>
</ink>""")
    # x: 10, +1, +(1+1), +(2+2); y explicit and negated (InkML y points down)
    assert doc.words[0].label == "hi"
    assert doc.words[0].strokes[0].tolist() == [[10, 0], [11, -1], [13, 0], [17, -2]]


@pytest.mark.parametrize("text, message", [
    ("<ink><trace>1 2, 3</trace>", "<inkml>:1: not well-formed XML"),
    ('<ink xmlns="http://www.w3.org/2003/InkML">\n<mapping type="affine"/></ink>', "<inkml>:2: <mapping> is not supported"),
    ("<ink>\n\n<foo/></ink>", "<inkml>:3: unknown InkML element <foo>"),
    ("<ink><trace>1 2, 3</trace></ink>", "<inkml>:1: trace point 1: expected values"),
    ('<ink><traceView traceDataRef="#x"/></ink>', "<inkml>:1: <traceView traceDataRef='x'>: no trace"),
    ("<svg/>", "<inkml>:1: expected an <ink> root element"),
])
def test_inkml_errors(text, message):
    with pytest.raises(InkFormatError) as e:
        parse_inkml(text)
    assert str(e.value).startswith(message)


def test_json_fixture_round_trip_and_errors(tmp_path):
    doc = read_ink(SAMPLE_INK / "xueyan-words.json")
    assert [w.label for w in doc.words] == ["anorak", "bald", "belly", "catch"]
    write_json_ink(doc.words, tmp_path / "w.json")
    assert [w.num_points for w in read_ink(tmp_path / "w.json").words] == [w.num_points for w in doc.words]
    single = parse_json_ink('{"label": "x", "strokes": [[[0, 0], [1, 1]]]}')
    assert single.words[0].label == "x" and single.words[0].num_points == 2
    with pytest.raises(InkFormatError, match=r"^j:2: not valid JSON"):
        parse_json_ink('{"words":\n [}', "j")
    with pytest.raises(InkFormatError, match=r"words\[0\].strokes\[0\]: expected a list of \[x, y\]"):
        parse_json_ink('{"words": [{"strokes": [[[0, "a"]]]}]}')
    with pytest.raises(InkFormatError, match=r"unsupported key\(s\) \['pressure'\]"):
        parse_json_ink('{"strokes": [], "pressure": []}')


def test_read_ink_sniffs_format_and_rejects_unknown(tmp_path):
    assert read_ink(UNIPEN).words[0].label == "freshman"
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(InkFormatError, match="not InkML"):
        read_ink(other)
    with pytest.raises(ValueError, match=r"strokes\[0\]: expected an \(N, 2\) array"):
        Ink([np.zeros((3, 3))])
    assert "<annotation" not in inkml_text([Ink([[[0, 0]]])])
