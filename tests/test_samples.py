"""The committed samples/: what README command 1 validates, and what one documented command writes."""

from pathlib import Path

from typer.testing import CliRunner

from omnimig.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
#: The documented command (README, "omnimig samples") that wrote samples/.
COMMAND = ["samples", "--out", "samples", "--orders", "9", "--seed", "1"]


def test_committed_samples_have_no_problems() -> None:
    result = CliRunner().invoke(app, ["validate", "--strict", "--require-all", "--format", "json", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    assert '"errors": 0' in result.output and '"warnings": 0' in result.output


def test_committed_samples_are_exactly_what_the_documented_command_writes(tmp_path: Path) -> None:
    out = tmp_path / "samples"
    args = [*COMMAND[:2], str(out), *COMMAND[3:]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in SAMPLES.iterdir())
    for name in written:
        assert (out / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_readme_documents_the_command() -> None:
    assert "omnimig " + " ".join(COMMAND) in (ROOT / "README.md").read_text(encoding="utf-8")
