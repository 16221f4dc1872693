"""Small files written on the fly in each encoding and format the reader accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

HEADER_ZH = "企业代码,企业名称,年份,行业代码,从业人数,经度,纬度\n"
ROWS_ZH = (
    "E1,苏州华新电子有限公司,2022,C3971,120,120.61,31.30\n"
    "E2,苏州瑞达机械有限公司,2022,C3562,35,120.65,31.27\n"
)


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text, encoding) -> path of a file holding ``text`` in ``encoding``."""

    def _write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write
