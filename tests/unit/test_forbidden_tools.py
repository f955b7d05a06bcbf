"""Replaying image layers the way the storage driver does: what ships, what is hidden."""

from grader.checks.forbidden_tools import find_tools
from grader.engine import ImageLayer, LayerEntry


def layer(index, command, *entries):
    """Entries as `list_layer` yields them: a whiteout or opaque entry names what it hides."""
    return ImageLayer(index, command, [LayerEntry(path, kind, 10) for path, kind in entries])


def test_tool_added_and_never_removed_ships():
    layers = [layer(0, "ADD rootfs", ("/usr/local/go/bin/go", "file"), ("/usr/bin/gofmt", "file"))]
    found = find_tools(layers, {"go"})
    assert [(s.path, s.deleted_in) for s in found] == [("/usr/local/go/bin/go", None)]


def test_whiteout_hides_but_the_adding_layer_still_ships():
    layers = [
        layer(0, "ADD rootfs", ("/usr/local/go/bin/go", "file")),
        layer(1, "RUN rm /usr/local/go/bin/go", ("/usr/local/go/bin/go", "whiteout")),
    ]
    (sighting,) = find_tools(layers, {"go"})
    assert sighting.deleted_in.index == 1 and sighting.added_in.index == 0


def test_removing_the_whole_folder_hides_every_tool_below_it():
    layers = [
        layer(0, "ADD", ("/usr/lib/go-1.19/bin/go", "file"), ("/usr/bin/go", "symlink")),
        layer(1, "RUN rm -rf /usr/lib/go-1.19 /usr/bin/go", ("/usr/lib/go-1.19", "whiteout"), ("/usr/bin/go", "whiteout")),
    ]
    found = find_tools(layers, {"go"})
    assert {s.path for s in found} == {"/usr/lib/go-1.19/bin/go", "/usr/bin/go"}
    assert all(s.deleted_in is not None for s in found)


def test_opaque_folder_hides_earlier_content_but_not_its_own():
    layers = [
        layer(0, "ADD", ("/opt/maven/bin/mvn", "file")),
        layer(1, "RUN", ("/opt/maven", "opaque"), ("/opt/maven/bin/mvn", "file")),
    ]
    found = find_tools(layers, {"mvn"})
    shipped = [s for s in found if s.deleted_in is None]
    assert [s.added_in.index for s in shipped] == [1]


def test_names_outside_bin_folders_and_other_tools_are_ignored():
    layers = [layer(0, "COPY", ("/web/go", "file"), ("/usr/share/doc/go/README", "file"), ("/usr/bin/gofmt", "file"))]
    assert find_tools(layers, {"go"}) == []
