"""Vocabularies: Chinese names, geography with real administrative codes, company and street words.

Person names come from Faker's ``zh_CN`` person provider lists (surnames with their frequency weights, male
and female given names), used as vocabularies and sampled with numpy. Administrative division codes come from
python-stdnum's ``cn/loc`` table (the one ``stdnum.cn.ric`` validates against), with the years each code was in
use, so an identity number's area code is one that existed in the holder's birth year.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crm.synthetic.rand import choice_index, uniform

# ------------------------------------------------------------------------------------------ people


@functools.cache
def surnames() -> tuple[np.ndarray, np.ndarray]:
    from faker.providers.person.zh_CN import Provider

    names = np.array(list(Provider.last_names.keys()), dtype=object)
    weights = np.array(list(Provider.last_names.values()), dtype=np.float64)
    return names, weights


@functools.cache
def given_names() -> tuple[np.ndarray, np.ndarray]:
    from faker.providers.person.zh_CN import Provider

    return (
        np.array(sorted(set(Provider.first_names_male)), dtype=object),
        np.array(sorted(set(Provider.first_names_female)), dtype=object),
    )


def person_names(
    u1: np.ndarray, u2: np.ndarray, u3: np.ndarray, male: np.ndarray, surname: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(full name, surname) from three uniforms per person. About 45% of single-character given names get a
    second character (two names of the list combined), as two-character given names are the commoner."""
    sn, sw = surnames()
    male_names, female_names = given_names()
    if surname is None:
        surname = sn[choice_index(u1, sw)]
    male = np.asarray(male, dtype=bool)

    def pick(u, vocab):
        idx = np.minimum((u * len(vocab)).astype(np.int64), len(vocab) - 1)
        return vocab[idx], np.array([len(v) for v in vocab])[idx]

    m1, ml1 = pick(u2, male_names)
    f1, fl1 = pick(u2, female_names)
    u3b = (u3 * 7919.0) % 1.0
    m2, ml2 = pick(u3b, male_names)
    f2, fl2 = pick(u3b, female_names)
    g1 = np.where(male, m1, f1)
    len1 = np.where(male, ml1, fl1)
    g2 = np.where(male, m2, f2)
    len2 = np.where(male, ml2, fl2)
    second = (len1 == 1) & (len2 == 1) & (u3 < 0.45)
    given = np.where(second, g1 + g2, g1)
    return surname + given, surname


# Surname romanisation for staff e-mail addresses (the commonest surnames; staff names are drawn from these).
SURNAME_PINYIN = {
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
    "黄": "huang",
    "赵": "zhao",
    "吴": "wu",
    "周": "zhou",
    "徐": "xu",
    "孙": "sun",
    "马": "ma",
    "朱": "zhu",
    "胡": "hu",
    "郭": "guo",
    "何": "he",
    "高": "gao",
    "林": "lin",
    "罗": "luo",
    "郑": "zheng",
    "梁": "liang",
    "谢": "xie",
    "宋": "song",
    "唐": "tang",
    "许": "xu",
    "韩": "han",
    "冯": "feng",
    "邓": "deng",
    "曹": "cao",
    "彭": "peng",
    "曾": "zeng",
    "肖": "xiao",
    "田": "tian",
    "董": "dong",
    "袁": "yuan",
    "潘": "pan",
    "于": "yu",
    "蒋": "jiang",
    "蔡": "cai",
    "余": "yu",
    "杜": "du",
    "叶": "ye",
    "程": "cheng",
    "苏": "su",
    "魏": "wei",
    "吕": "lv",
    "丁": "ding",
    "任": "ren",
    "沈": "shen",
    "姚": "yao",
    "卢": "lu",
    "姜": "jiang",
    "崔": "cui",
    "钟": "zhong",
    "谭": "tan",
    "陆": "lu",
    "汪": "wang",
    "范": "fan",
    "金": "jin",
    "石": "shi",
    "廖": "liao",
    "贾": "jia",
    "夏": "xia",
    "韦": "wei",
    "方": "fang",
    "白": "bai",
    "邹": "zou",
    "孟": "meng",
    "熊": "xiong",
    "秦": "qin",
    "邱": "qiu",
    "江": "jiang",
    "尹": "yin",
    "薛": "xue",
    "闫": "yan",
    "段": "duan",
    "雷": "lei",
    "侯": "hou",
    "龙": "long",
    "史": "shi",
}

# ------------------------------------------------------------------------------------------ geography


@dataclass(frozen=True)
class AdminTable:
    """One row per (code, validity period) of stdnum's cn/loc table."""

    code: np.ndarray  # int 6 digits
    name: np.ndarray  # object
    start: np.ndarray  # first year valid (0 = always)
    end: np.ndarray  # last year valid (9999 = still valid)
    province: dict[int, str]  # 2-digit code -> name
    prefecture: dict[int, str]  # 4-digit code -> name


@functools.cache
def admin_table() -> AdminTable:
    import stdnum

    path = Path(stdnum.__file__).parent / "cn" / "loc.dat"
    codes, names, starts, ends = [], [], [], []
    provinces: dict[int, str] = {}
    prefectures: dict[int, str] = {}
    prov = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^(\d{2}) province="([^"]+)"', line)
        if m:
            prov = int(m[1])
            provinces[prov] = m[2]
            continue
        m = re.match(r'^\s+(\d{4}) county="([^"]+)"', line)
        if not m:
            continue
        code = prov * 10000 + int(m[1])
        for part in m[2].split(","):
            pm = re.match(r"^\[(\d*)-(\d*)\](.*)$", part)
            if pm:
                start, end, name = int(pm[1] or 0), int(pm[2] or 9999), pm[3]
            else:
                start, end, name = 0, 9999, part
            codes.append(code)
            names.append(name)
            starts.append(start)
            ends.append(end)
            if code % 100 == 0 and code % 10000 != 0 and end == 9999:
                prefectures[code // 100] = name
    return AdminTable(
        np.array(codes, dtype=np.int64),
        np.array(names, dtype=object),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        provinces,
        prefectures,
    )


# The cities where the bank has branches (prefecture codes), in the order branches are opened; weights are
# the relative size of each branch's customer base.
BRANCH_CITIES = (
    (3101, 10.0),
    (1101, 9.0),
    (4403, 8.0),
    (4401, 7.0),
    (3301, 6.0),
    (3201, 5.5),
    (3205, 5.0),
    (5101, 5.0),
    (4201, 4.5),
    (6101, 4.0),
    (1201, 4.0),
    (5001, 4.0),
    (4101, 3.5),
    (3701, 3.0),
    (4301, 3.0),
    (3501, 2.5),
    (3401, 2.5),
    (3702, 2.5),
    (3302, 2.5),
    (3502, 2.0),
)
MUNICIPALITIES = {11, 12, 31, 50}


@dataclass(frozen=True)
class City:
    prefecture: int  # 4-digit code
    province: str
    city: str
    short: str  # for company names: 上海, 深圳
    districts: np.ndarray  # names of current districts/counties
    district_codes: np.ndarray  # their 6-digit codes


@functools.cache
def city(prefecture: int) -> City:
    t = admin_table()
    prov = prefecture // 100
    province = t.province[prov]
    name = province if prov in MUNICIPALITIES else t.prefecture[prefecture]
    current = (t.code // 100 == prefecture) & (t.end == 9999) & (t.code % 100 != 0)
    names = t.name[current]
    ok = np.array([bool(re.search(r"(区|县|市)$", n)) and n not in ("市辖区", "郊区", "市区", "县") for n in names])
    short = re.sub(r"(市|省|自治区|特别行政区)$", "", name)
    return City(prefecture, province, name, short, names[ok], t.code[current][ok])


def area_codes_valid_in(prefecture_codes: np.ndarray, years: np.ndarray, seed: int, keys: np.ndarray) -> np.ndarray:
    """A county-level code of each person's prefecture that existed in their birth year.

    Vectorised rejection sampling over the table rows of the prefecture; after 12 rounds the prefecture's own
    code (valid in every year) is used. A 0 prefecture means: anywhere in the country.
    """
    t = admin_table()
    usable = (
        (t.code % 100 != 0) & (t.code // 10000 < 70) & np.array([n not in ("市辖区", "郊区", "市区") for n in t.name])
    )
    rows = np.flatnonzero(usable)
    pref_of_row = t.code[rows] // 100
    order = np.argsort(pref_of_row, kind="stable")
    rows = rows[order]
    pref_sorted = pref_of_row[order]
    n = len(prefecture_codes)
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    pref = np.asarray(prefecture_codes, dtype=np.int64)
    lo = np.searchsorted(pref_sorted, pref, side="left")
    hi = np.searchsorted(pref_sorted, pref, side="right")
    anywhere = pref == 0
    lo[anywhere] = 0
    hi[anywhere] = len(rows)
    for r in range(12):
        if len(todo) == 0:
            break
        uu = uniform(seed, "area_code", keys[todo], r)
        span = np.maximum(hi[todo] - lo[todo], 1)
        pick = rows[np.minimum(lo[todo] + (uu * span).astype(np.int64), len(rows) - 1)]
        y = years[todo]
        ok = (t.start[pick] <= y) & (y <= t.end[pick]) & (hi[todo] > lo[todo])
        out[todo[ok]] = t.code[pick[ok]]
        todo = todo[~ok]
    if len(todo):
        fallback = np.where(pref[todo] > 0, pref[todo] * 100, 110100)
        out[todo] = fallback
    return out


STREETS = np.array(
    [
        "人民路",
        "解放路",
        "中山路",
        "建设路",
        "和平路",
        "新华路",
        "长江路",
        "黄河路",
        "东风路",
        "青年路",
        "胜利路",
        "文化路",
        "光明路",
        "友谊路",
        "五一路",
        "朝阳路",
        "北京路",
        "南京路",
        "延安路",
        "复兴路",
        "幸福路",
        "迎宾大道",
        "滨江路",
        "湖滨路",
        "科技路",
        "高新路",
        "创业路",
        "工业路",
        "振兴路",
        "学府路",
        "花园路",
        "春风路",
        "金桥路",
        "银河路",
        "世纪大道",
        "东方路",
        "园区路",
        "团结路",
        "民主路",
        "兴业路",
        "锦绣路",
        "龙华路",
        "紫荆路",
        "桂花路",
        "枫林路",
        "海棠路",
        "凤凰路",
        "天山路",
        "昆仑路",
        "太白路",
        "长安街",
        "中华路",
        "环城路",
        "体育路",
        "站前路",
        "劳动路",
        "丰收路",
        "新民路",
    ],
    dtype=object,
)
STREET_DIRECTIONS = np.array(["", "", "", "东", "西", "南", "北", "中"], dtype=object)
COMMUNITY_HEADS = np.array(
    [
        "阳光",
        "锦绣",
        "碧水",
        "金色",
        "翠湖",
        "紫荆",
        "华府",
        "御景",
        "丽景",
        "和谐",
        "幸福",
        "书香",
        "滨江",
        "世纪",
        "绿地",
        "万科",
        "保利",
        "龙湖",
        "中海",
        "恒大",
        "东方",
        "枫林",
        "桂园",
        "兰亭",
        "颐和",
        "金地",
        "星河",
        "水岸",
        "名都",
        "江南",
    ],
    dtype=object,
)
COMMUNITY_TAILS = np.array(["花园", "家园", "小区", "苑", "公寓", "新村", "名苑", "雅居", "华庭", "城"], dtype=object)

# ------------------------------------------------------------------------------------------ companies

BRAND_CHARS = np.array(
    list(
        "华鑫瑞恒泰盛达利通源德兴隆宏昌安博嘉诚信宇中天海金联创新康明辉永丰祥和顺阳光汇银星远卓越智成正聚优佳威凯腾龙富健亿万"
    ),
    dtype=object,
)


@functools.cache
def faker_brands() -> np.ndarray:
    from faker.providers.company.zh_CN import Provider

    # the prefixes that are plain brand words (some carry a city or a product: keep those of 2-3 characters)
    return np.array([p for p in Provider.company_prefixes if 2 <= len(p) <= 3], dtype=object)


INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "A": ("农业科技", "生态农业", "农牧", "水产养殖", "林业开发"),
    "B": ("矿业", "能源开发", "矿产资源"),
    "C": (
        "机械制造",
        "电子科技",
        "精密机械",
        "新材料",
        "化工",
        "纺织",
        "食品",
        "汽车零部件",
        "医疗器械",
        "塑胶制品",
        "服饰",
    ),
    "D": ("能源", "电力", "燃气", "水务", "新能源"),
    "E": ("建设工程", "建筑工程", "装饰工程", "市政工程", "建筑安装"),
    "F": ("贸易", "商贸", "实业", "供应链管理", "百货", "医药连锁", "进出口"),
    "G": ("物流", "运输", "货运代理", "仓储", "冷链物流"),
    "H": ("餐饮管理", "酒店管理", "餐饮"),
    "I": ("信息技术", "网络科技", "软件", "数据科技", "智能科技"),
    "K": ("房地产开发", "置业", "物业管理"),
    "L": ("企业管理咨询", "商务服务", "租赁", "人力资源", "广告"),
    "M": ("技术服务", "检测技术", "生物科技", "工程设计"),
    "N": ("环保科技", "环境工程", "园林绿化"),
    "P": ("教育科技", "文化教育", "职业培训"),
    "Q": ("医疗管理", "健康管理", "养老服务"),
    "R": ("文化传媒", "影视", "体育发展", "文化旅游"),
}
INDUSTRY_CODES = np.array(list(INDUSTRY_WORDS), dtype=object)
# share of corporate customers by GB/T 4754 section (a regional bank's SME book)
INDUSTRY_WEIGHTS = np.array([3.5, 1.0, 28, 1.5, 8, 24, 5, 4, 6, 3, 7, 3, 1.5, 1, 1.5, 2], dtype=np.float64)
# industry level of risk (added to the corporate latent risk) and balance-sheet shape
INDUSTRY_RISK = {
    "A": 0.25,
    "B": 0.2,
    "C": 0.0,
    "D": -0.4,
    "E": 0.35,
    "F": 0.1,
    "G": 0.05,
    "H": 0.3,
    "I": -0.1,
    "K": 0.45,
    "L": 0.1,
    "M": -0.2,
    "N": -0.1,
    "P": 0.0,
    "Q": -0.2,
    "R": 0.2,
}
# asset turnover (revenue / assets), typical liabilities / assets, gross margin, operating margin
INDUSTRY_SHAPE = {
    "A": (0.8, 0.50, 0.18, 0.05),
    "B": (0.5, 0.55, 0.30, 0.10),
    "C": (0.9, 0.55, 0.20, 0.06),
    "D": (0.3, 0.62, 0.22, 0.09),
    "E": (0.7, 0.70, 0.12, 0.04),
    "F": (2.0, 0.62, 0.10, 0.03),
    "G": (0.9, 0.55, 0.14, 0.05),
    "H": (1.1, 0.55, 0.45, 0.06),
    "I": (0.8, 0.40, 0.45, 0.10),
    "K": (0.25, 0.75, 0.30, 0.12),
    "L": (1.0, 0.55, 0.30, 0.07),
    "M": (0.8, 0.45, 0.40, 0.09),
    "N": (0.4, 0.58, 0.28, 0.08),
    "P": (0.7, 0.45, 0.45, 0.08),
    "Q": (0.7, 0.45, 0.35, 0.08),
    "R": (0.6, 0.50, 0.40, 0.07),
}
GUARANTEE_COMPANIES = np.array(
    ["融资担保有限公司", "中小企业融资担保有限公司", "信用融资担保股份有限公司", "再担保有限公司"],
    dtype=object,
)
OCCUPATION_EMPLOYER_WORDS = np.array(["有限公司", "科技有限公司", "贸易有限公司", "股份有限公司"], dtype=object)
PUBLIC_EMPLOYERS = np.array(
    [
        "人民医院",
        "第一中学",
        "实验小学",
        "市场监督管理局",
        "税务局",
        "供电公司",
        "人民法院",
        "大学",
        "自来水公司",
        "公安局",
    ],
    dtype=object,
)

MERCHANTS = np.array(
    [
        "美团",
        "京东商城",
        "天猫超市",
        "盒马鲜生",
        "永辉超市",
        "沃尔玛",
        "中国石化加油站",
        "华润万家",
        "肯德基",
        "星巴克",
        "拼多多",
        "滴滴出行",
        "国家电网电费",
        "中国移动话费",
        "物业管理处",
        "携程旅行",
        "大润发",
        "屈臣氏",
        "瑞幸咖啡",
        "麦当劳",
    ],
    dtype=object,
)
