from pathlib import Path


def test_analyze_json_runs(cli, fixture_copy) -> None:
    d: Path = fixture_copy("trackio-0.43.0")
    r = cli("analyze", str(d / "toyproj.db"), "--json")
    assert r.exit_code == 0, r.stderr
    assert '"total_rows": 300' in r.stdout


def test_missing_file(cli, tmp_path) -> None:
    r = cli("analyze", str(tmp_path / "nope.db"))
    assert r.exit_code == 1
    assert r.stderr.startswith("error: no such file")
    assert r.stdout == ""
