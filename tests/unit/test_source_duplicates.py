"""No block of six or more lines in src/ stands again elsewhere in src/: one implementation for each piece of logic."""

from collections import defaultdict

from conftest import ROOT

BLOCK = 6


def _code_lines(path):
    # stripped text with blank lines and whole-line comments dropped: moving or re-indenting a copy does not hide it
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, text


def find_repeated_blocks(root, block: int = BLOCK) -> list[tuple[str, str]]:
    seen: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        lines = list(_code_lines(path))
        for i in range(len(lines) - block + 1):
            window = tuple(text for _, text in lines[i : i + block])
            if sum(len(t) for t in window) < 120:  # closing brackets, `else:`/`return` runs: too thin to be logic
                continue
            seen[window].append(f"{path.relative_to(root)}:{lines[i][0]}")
    return [(places[0], places[1]) for places in seen.values() if len(places) > 1]


def test_no_block_of_six_lines_is_repeated_in_src():
    repeated = find_repeated_blocks(ROOT / "src")
    assert not repeated, "repeated blocks (first line of each place): " + "; ".join(f"{a} ~ {b}" for a, b in repeated[:10])


def test_the_check_finds_a_copied_block(tmp_path):
    body = "\n".join(f"value_{i} = compute(value_{i - 1}, factor={i})  # step {i}" for i in range(1, 8))
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text(f"def f():\n    pass\n\n{body}\n")
    assert len(find_repeated_blocks(tmp_path)) >= 1
    (tmp_path / "b.py").write_text("def f():\n    pass\n")
    assert find_repeated_blocks(tmp_path) == []
