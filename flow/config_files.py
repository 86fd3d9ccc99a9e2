"""YAML configuration files: a malformed file is a one-line error with the file, line and column."""

from __future__ import annotations

from pathlib import Path


def load_yaml_mapping(path, what: str = "settings") -> dict:
    """The mapping in YAML file ``path`` (empty file: ``{}``); ValueError/FileNotFoundError otherwise."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected a YAML file of {what})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: malformed YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of {what} (key: value lines), got a {type(data).__name__}")
    return data
