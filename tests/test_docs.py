"""The docs a newcomer reads first: a short README whose links resolve, and no project history in the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 150  # what a newcomer needs; figures go to docs/performance.md
LINKED_DOCS = ("README.md", "docs/cli.md", "docs/performance.md", "bench/README.md")
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)
EXTERNAL = ("http://", "https://", "mailto:")

# Project history in code and docs: which round of work, issue or review stop made something so.
# Say what the code does and why instead; git and the issue notes keep the history. A "round" of
# the scheduler (one batch of due hops) is the code's own word, so "round" counts only with a number
# or as a point in the project's time.
HISTORY = re.compile(
    r"round [0-9]|issue ?#?[0-9]|stop [0-9]|(before|after|since|until|in|of) this\s+round|this\s+round's",
    re.IGNORECASE,
)
TEXT_SUFFIXES = {".py", ".md", ".json", ".jsonl", ".toml", ".sh", ".txt", ".yml", ".yaml", ".cfg", ".html", ".js",
                 ".css", ""}  # fmt: skip


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in markdown.read_text().splitlines() if line.startswith("#")}


def repository_files() -> list[Path]:
    """The files git tracks or would track (ignored build outputs and virtualenvs left out)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_readme_is_short():
    """The README stays a newcomer's page: at most 150 lines, its figures kept in docs/performance.md."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"
    assert "(docs/performance.md)" in "\n".join(lines)


@pytest.mark.parametrize("doc", LINKED_DOCS)
def test_relative_links_resolve(doc):
    """Every relative link in the README and the docs it leads to names a file that exists, and a heading in it."""
    source = ROOT / doc
    broken = []
    for target in LINK.findall(source.read_text()):
        if target.startswith(EXTERNAL):
            continue
        path, _, fragment = target.partition("#")
        linked = (source.parent / path).resolve() if path else source
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no heading #{fragment} in {linked.relative_to(ROOT)}")
    assert not broken, f"{doc}: " + "; ".join(broken)


def test_no_project_history_in_the_tree():
    """Code, docs, tests and bench results say what the code does, not which round or issue made it so."""
    found = []
    for path in repository_files():
        name = path.relative_to(ROOT).as_posix()
        if HISTORY.search(name):
            found.append(f"{name}: the file's name")
        if path.suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (audio, images, weights)
        found += [f"{name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if HISTORY.search(line)]
    assert not found, "history in the tree (say what the code does instead):\n" + "\n".join(found)


# Assembled, so that this file does not hold the phrases it looks for.
@pytest.mark.parametrize(
    "line, history",
    [
        ("| " + "round" + " 1's default: whole windows |", True),
        ("Speed work of " + "issue" + " 18", True),
        ("see " + "issue" + " #16", True),
        ("speed_" + "issue" + "18.json", True),
        ("before " + "this" + " round's changes", True),
        ("as of review " + "stop" + " 3", True),
        ("streams ahead of real time that yield " + "this" + " round", False),
        ("each round pushes one due hop per stream", False),
    ],
    ids=["round", "issue", "issue-hash", "file-name", "this-round-as-time", "stop", "scheduler", "scheduler-each"],
)  # ids of their own: pytest's cache keeps test ids, and it should not hold the phrases either
def test_history_pattern(line, history):
    """The history check catches a round, issue or stop by number, and leaves the scheduler's rounds alone."""
    assert bool(HISTORY.search(line)) is history


def test_every_python_file_in_the_tree_compiles():
    """Scripts no test imports (benches, training, examples) still parse: a broken one is found here,
    not by the next person who runs it."""
    broken = []
    for path in repository_files():
        if path.suffix == ".py":
            try:
                compile(path.read_text(), str(path), "exec")
            except SyntaxError as e:
                broken.append(f"{path.relative_to(ROOT)}:{e.lineno}: {e.msg}")
    assert not broken, "\n".join(broken)
