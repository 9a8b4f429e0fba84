"""A strict YAML reader: yaml.SafeLoader without anchors, aliases or duplicate keys."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._text import one_line


def _strict_loader():
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """yaml.SafeLoader that refuses anchors, aliases and duplicate keys.

        Aliases make alias bombs and recursive structures possible, and a
        schedule needs neither; a repeated key would silently win.
        """

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.constructor.ConstructorError(
                    None, None, "anchors and aliases (&name, *name) are not allowed; write the "
                    "values out", event.start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping", node.start_mark,
                            f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                            key_node.start_mark)
                    seen[key] = key_node.start_mark
                except TypeError:  # an unhashable key: the base class reports it
                    pass
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def read_strict_yaml(path: Path) -> Any:
    """The YAML document of ``path``; ValueError naming the file (and line) when it is not one."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from None
    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({one_line(str(error))})") from None
