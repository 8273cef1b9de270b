"""Every relative link in the README, CONTRIBUTING, CHANGELOG and docs/ resolves: the file exists
inside the repository, and a #anchor names a heading there (GitHub's slugs)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def strip_code(text: str) -> str:
    """Text without fenced code blocks and inline code spans (links there are not links)."""
    out, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            out.append("")
            continue
        # inline code: its text becomes x's, so a link written inside backticks is no link,
        # while a link whose text is code ([`data.augment`](...)) still is
        out.append("" if inside else re.sub(r"`[^`]*`", lambda m: "x" * len(m[0]), line))
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    s = heading.strip().lower()
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)  # a link's text
    s = re.sub(r"[^\w\- ]", "", s)  # keeps letters, digits, _, -, space
    return s.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        m = None if inside else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m[2])
            n = seen.get(base, 0)
            result.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return result


def broken_links(files: list[Path], root: Path) -> tuple[int, list[str]]:
    """(links checked, one line per broken link)."""
    problems, checked = [], 0
    for md in files:
        for number, line in enumerate(strip_code(md.read_text(encoding="utf-8")).splitlines(), 1):
            for m in LINK.finditer(line):
                target = m[2] or m[3]
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                checked += 1
                path, _, anchor = target.partition("#")
                dest = (md.parent / path).resolve() if path else md
                where = f"{md.relative_to(root)}:{number}: {target}"
                if not dest.exists() or not dest.is_relative_to(root):
                    problems.append(f"{where}: no such file in the repository")
                elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
                    problems.append(f"{where}: no heading #{anchor} there")
    return checked, problems


def test_every_relative_link_resolves():
    checked, problems = broken_links(FILES, ROOT)
    assert checked > 30 and problems == []


def test_a_broken_file_or_anchor_is_found(tmp_path):
    (tmp_path / "a.md").write_text(
        "# Title\n\n## Some heading\n\n[ok](#some-heading) "
        "[gone](b.md) [bad](a.md#nowhere) `[code](x.md)`\n"
    )
    checked, problems = broken_links([tmp_path / "a.md"], tmp_path)
    assert checked == 3 and len(problems) == 2


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250
