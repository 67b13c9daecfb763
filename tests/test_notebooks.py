"""Every teaching notebook runs top to bottom on a CPU, and is stored without outputs."""

import json
from pathlib import Path

import pytest
from helpers.notebooks import execute

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "dashboards").glob("*.ipynb"))
EXECUTED = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: p.name)
def test_exercises_have_hidden_solutions_that_run(path):
    """2-4 "Your turn" cells per notebook, each followed at once by its solution, folded away in JupyterLab;
    the solutions are ordinary code cells, so `test_runs_top_to_bottom` executes every one of them."""
    cells = json.loads(path.read_text())["cells"]
    exercises = [i for i, c in enumerate(cells) if "exercise" in c.get("metadata", {}).get("tags", [])]
    assert 2 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercises"
    for i in exercises:
        task, solution = cells[i], cells[i + 1] if i + 1 < len(cells) else {}
        assert task["cell_type"] == "markdown" and "".join(task["source"]).startswith("### Your turn"), path.name
        assert solution.get("cell_type") == "code", f"{path.name}: exercise at cell {i} has no solution after it"
        assert "solution" in solution["metadata"].get("tags", []), f"{path.name}: cell {i + 1} is not tagged"
        assert solution["metadata"].get("jupyter", {}).get("source_hidden") is True, f"{path.name}: cell {i + 1}"
        assert "".join(solution["source"]).startswith("# Solution"), f"{path.name}: cell {i + 1}"
    tagged = sum("solution" in c.get("metadata", {}).get("tags", []) for c in cells)
    assert tagged == len(exercises), f"{path.name}: a solution without its exercise"


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: p.name)
def test_runs_top_to_bottom(path, tmp_path):
    """Alone, on a lab of its own (no server for this home): the embedded path of every notebook."""
    execute(path, {"SORA_LAB_HOME": str(tmp_path / "lab"), "SORA_LAB_SERVER": None,
                   "SORA_LAB_HANDLE": None, "SORA_LAB_SEAT": None})
