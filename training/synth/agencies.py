"""Agency names at every administrative level, built combinatorially.

Provinces and prefecture cities are real names (any real place is fine for synthetic reports);
county, district, town and street names are composed from common place-name characters, so the
classifier sees many unseen names rather than memorising a list.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

PROVINCES = [
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北",
    "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
]
REGIONS = ["内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区"]
MUNICIPALITIES = ["北京", "天津", "上海", "重庆"]
CITIES = [
    "石家庄", "唐山", "保定", "邯郸", "太原", "大同", "长治", "沈阳", "大连", "鞍山", "锦州", "长春", "吉林", "四平",
    "哈尔滨", "齐齐哈尔", "牡丹江", "南京", "无锡", "徐州", "常州", "苏州", "南通", "淮安", "盐城", "扬州", "杭州",
    "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "台州", "合肥", "芜湖", "蚌埠", "安庆", "黄山", "阜阳", "福州",
    "厦门", "莆田", "三明", "泉州", "漳州", "南昌", "九江", "赣州", "吉安", "上饶", "济南", "青岛", "淄博", "烟台",
    "潍坊", "济宁", "威海", "临沂", "郑州", "洛阳", "开封", "新乡", "南阳", "信阳", "周口", "三门峡", "武汉", "宜昌",
    "襄阳", "荆州", "黄冈", "十堰", "长沙", "株洲", "湘潭", "衡阳", "岳阳", "常德", "怀化", "广州", "深圳", "珠海",
    "汕头", "佛山", "韶关", "湛江", "肇庆", "惠州", "梅州", "南宁", "柳州", "桂林", "海口", "三亚", "成都", "绵阳",
    "德阳", "宜宾", "南充", "贵阳", "遵义", "昆明", "曲靖", "大理", "西安", "宝鸡", "咸阳", "汉中", "兰州", "天水",
    "西宁", "银川", "乌鲁木齐", "呼和浩特", "包头",
]
# characters of made-up county, district, town and street names
_FIRST = list("东西南北安平宁永长清新丰河山龙江阳太金玉青白黄红桃柳松梅兰华云天泰福寿康乐和兴盛崇德仁义礼文武"
              "常汉沙洪海湖溪岭峰源泉城石凤鹤鹿马牛双三五九石榆杨桑梨枣柏")
_SECOND = list("阳平安宁城山河水川丰源泉江湖溪林口岭坪台关集庄桥滨浦湾渡岗坡店营乐兴昌盛和华泰康")
_TOWN_SECOND = list("家庄店桥集口铺坪屯寨湾河镇岗营堡沟坝")

PROVINCE_DEPARTMENTS = [
    "人民政府", "人民政府办公厅", "发展和改革委员会", "教育厅", "科学技术厅", "工业和信息化厅", "民族宗教事务委员会",
    "公安厅", "民政厅", "司法厅", "财政厅", "人力资源和社会保障厅", "自然资源厅", "生态环境厅", "住房和城乡建设厅",
    "交通运输厅", "水利厅", "农业农村厅", "商务厅", "文化和旅游厅", "卫生健康委员会", "退役军人事务厅", "应急管理厅",
    "审计厅", "市场监督管理局", "统计局", "医疗保障局", "林业局", "体育局", "广播电视局", "机关事务管理局",
    "人民防空办公室", "粮食和物资储备局", "信访局", "地方金融监督管理局", "药品监督管理局", "乡村振兴局",
]
LOCAL_DEPARTMENTS = [
    "人民政府办公室", "发展和改革局", "发展和改革委员会", "教育局", "教育和体育局", "科学技术局", "工业和信息化局",
    "公安局", "民政局", "司法局", "财政局", "人力资源和社会保障局", "自然资源局", "自然资源和规划局", "生态环境局",
    "住房和城乡建设局", "交通运输局", "水利局", "水务局", "农业农村局", "商务局", "文化和旅游局", "文化广电和旅游局",
    "卫生健康委员会", "卫生健康局", "退役军人事务局", "应急管理局", "审计局", "市场监督管理局", "统计局",
    "医疗保障局", "城市管理局", "综合行政执法局", "行政审批服务局", "政务服务和大数据管理局", "林业局", "体育局",
    "信访局", "人民防空办公室", "住房公积金管理中心", "机关事务服务中心", "民族宗教事务局", "乡村振兴局",
]
# city departments with a branch in each county or district (生态环境局XX分局)
BRANCHES = ["生态环境局", "自然资源和规划局", "公安局"]
ZONES = ["经济技术开发区管理委员会", "高新技术产业开发区管理委员会", "经济开发区管理委员会", "工业园区管理委员会"]
LEVELS = ("province", "city", "county", "township")


@dataclass(frozen=True)
class Agency:
    name: str
    level: str  # province | city | county | township
    government: bool  # a people's government (or its general office), not a department


def _place(rng: random.Random, suffix: str) -> str:
    name = rng.choice(_FIRST) + rng.choice(_SECOND)
    if rng.random() < 0.08:
        name = rng.choice(_FIRST) + name
    return name + suffix


def province_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.8:
        return rng.choice(PROVINCES) + "省"
    if r < 0.9:
        return rng.choice(REGIONS)
    return rng.choice(MUNICIPALITIES) + "市"


def city_name(rng: random.Random) -> str:
    return rng.choice(CITIES) + "市"


def county_name(rng: random.Random) -> str:
    return _place(rng, rng.choice(["县", "县", "区", "区", "市"]))


def township_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return rng.choice(_FIRST) + rng.choice(_TOWN_SECOND) + "镇"
    if r < 0.65:
        return rng.choice(_FIRST) + rng.choice(_SECOND) + "乡"
    return rng.choice(_FIRST) + rng.choice(_SECOND) + "街道"


def random_agency(rng: random.Random, level: str | None = None) -> Agency:
    """An agency of the given level (or a random one, weighted towards counties and cities)."""
    level = level or rng.choices(LEVELS, weights=[2, 4, 5, 2])[0]
    if level == "province":
        prov = province_name(rng)
        dept = rng.choice(PROVINCE_DEPARTMENTS)
        return Agency(prov + dept, level, dept.startswith("人民政府"))
    if level == "city":
        city = city_name(rng)
        r = rng.random()
        if r < 0.18:
            return Agency(city + "人民政府", level, True)
        if r < 0.25:
            return Agency(city + rng.choice(_FIRST) + rng.choice(_SECOND) + rng.choice(ZONES), level, False)
        dept = rng.choice(LOCAL_DEPARTMENTS)
        return Agency(city + dept, level, dept.startswith("人民政府"))
    if level == "county":
        county = county_name(rng)
        prefix = city_name(rng) if rng.random() < 0.3 else ""
        r = rng.random()
        if r < 0.22:
            return Agency(prefix + county + "人民政府", level, True)
        if r < 0.3:
            branch = rng.choice(BRANCHES)
            return Agency(city_name(rng) + branch + county.removesuffix("县").removesuffix("区") + "分局", level, False)
        dept = rng.choice(LOCAL_DEPARTMENTS)
        return Agency(prefix + county + dept, level, dept.startswith("人民政府"))
    town = township_name(rng)
    prefix = county_name(rng) if rng.random() < 0.5 else ""
    if town.endswith("街道"):
        return Agency(prefix + town + "办事处", level, True)
    return Agency(prefix + town + "人民政府", level, True)
