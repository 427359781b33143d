"""Dalian's starting catalogue: report categories, department kinds and the responsibility list (权责清单).

Categories follow the GB/T 30428.2 split of components (部件) and events (事件) into 大类/小类. gridflow codes
are 5 digits: kind (1 部件, 2 事件) + 大类 (2) + 小类 (2), because the standard numbers both kinds from 01 and
one code space must not collide. Rules are data, loaded into PostGIS and editable without a deploy.
"""

from __future__ import annotations

from geo.schemas import Category, CategoryKind, DutyRule, Level

_MAJORS: dict[str, tuple[CategoryKind, str]] = {
    "101": (CategoryKind.COMPONENT, "公用设施类"),
    "102": (CategoryKind.COMPONENT, "道路交通类"),
    "103": (CategoryKind.COMPONENT, "市容环境类"),
    "104": (CategoryKind.COMPONENT, "园林绿化类"),
    "105": (CategoryKind.COMPONENT, "房屋土地类"),
    "201": (CategoryKind.EVENT, "市容环境类"),
    "202": (CategoryKind.EVENT, "宣传广告类"),
    "203": (CategoryKind.EVENT, "施工管理类"),
    "204": (CategoryKind.EVENT, "突发事件类"),
    "205": (CategoryKind.EVENT, "街面秩序类"),
    "206": (CategoryKind.EVENT, "社区事务类"),
}

# code, name, responsible department kind, level that handles it, deadline (hours), legal basis;
# one duty a line, as the list reads.
# fmt: off
_DUTIES: tuple[tuple[str, str, str, Level, int, str], ...] = (
    ("10101", "上水井盖", "water", Level.DISTRICT, 24, "《城市供水条例》第三十二条"),
    ("10102", "污水井盖", "water", Level.DISTRICT, 24, "《城镇排水与污水处理条例》第四十二条"),
    ("10103", "雨水箅子", "water", Level.DISTRICT, 48, "《城镇排水与污水处理条例》第四十二条"),
    ("10104", "燃气井盖", "gas", Level.DISTRICT, 12, "《城镇燃气管理条例》第三十五条"),
    ("10105", "电力井盖", "power", Level.CITY, 24, "《电力设施保护条例》第九条"),
    ("10106", "路灯", "urban_management", Level.DISTRICT, 72, "《城市道路照明设施管理规定》第十三条"),
    ("10201", "道路破损", "urban_management", Level.DISTRICT, 72, "《城市道路管理条例》第二十一条"),
    ("10202", "交通信号灯", "traffic_police", Level.DISTRICT, 24, "《中华人民共和国道路交通安全法》第二十五条"),
    ("10203", "交通标志牌", "transport", Level.DISTRICT, 72, "《中华人民共和国道路交通安全法》第二十五条"),
    ("10204", "护栏", "urban_management", Level.DISTRICT, 72, "《城市道路管理条例》第二十一条"),
    ("10301", "垃圾箱", "urban_management", Level.DISTRICT, 48, "《城市市容和环境卫生管理条例》第二十八条"),
    ("10302", "公共厕所", "urban_management", Level.DISTRICT, 48, "《城市市容和环境卫生管理条例》第二十条"),
    ("10401", "行道树", "gardens", Level.DISTRICT, 72, "《城市绿化条例》第二十条"),
    ("10402", "绿地", "gardens", Level.DISTRICT, 120, "《城市绿化条例》第二十条"),
    ("10501", "危旧房屋", "housing", Level.DISTRICT, 24, "《城市危险房屋管理规定》第七条"),
    ("20101", "私搭乱建", "urban_management", Level.DISTRICT, 120, "《中华人民共和国城乡规划法》第六十八条"),
    ("20102", "暴露垃圾", "urban_management", Level.DISTRICT, 24, "《城市市容和环境卫生管理条例》第二十八条"),
    ("20103", "道路不洁", "urban_management", Level.DISTRICT, 24, "《城市市容和环境卫生管理条例》第十五条"),
    ("20104", "水域不洁", "ecology_environment", Level.DISTRICT, 72, "《中华人民共和国水污染防治法》第三十三条"),
    ("20201", "违规张贴小广告", "urban_management", Level.TOWNSHIP, 48, "《城市市容和环境卫生管理条例》第十七条"),
    ("20202", "非法户外广告", "urban_management", Level.DISTRICT, 120, "《城市市容和环境卫生管理条例》第十一条"),
    ("20301", "施工扰民", "ecology_environment", Level.DISTRICT, 24, "《中华人民共和国噪声污染防治法》第四十三条"),
    ("20302", "工地扬尘", "housing", Level.DISTRICT, 24, "《中华人民共和国大气污染防治法》第六十九条"),
    ("20401", "路面塌陷", "urban_management", Level.DISTRICT, 4, "《城市道路管理条例》第二十一条"),
    ("20402", "供水管道破裂", "water", Level.DISTRICT, 4, "《城市供水条例》第三十二条"),
    ("20403", "燃气泄漏", "gas", Level.DISTRICT, 1, "《城镇燃气管理条例》第三十九条"),
    ("20404", "下水道堵塞", "water", Level.DISTRICT, 12, "《城镇排水与污水处理条例》第四十二条"),
    ("20501", "占道经营", "urban_management", Level.TOWNSHIP, 24, "《城市市容和环境卫生管理条例》第十四条"),
    ("20502", "机动车乱停放", "traffic_police", Level.DISTRICT, 4, "《中华人民共和国道路交通安全法》第五十六条"),
    ("20503", "共享单车乱停放", "transport", Level.DISTRICT, 24, "《大连市互联网租赁自行车管理办法》"),
    ("20504", "无照经营", "market_regulation", Level.DISTRICT, 72, "《无证无照经营查处办法》第二条"),
    ("20601", "邻里纠纷", "community_affairs", Level.TOWNSHIP, 72, "《中华人民共和国人民调解法》第八条"),
    ("20602", "困难群众求助", "civil_affairs", Level.DISTRICT, 72, "《社会救助暂行办法》第五十条"),
    ("20603", "消防安全隐患", "emergency", Level.DISTRICT, 12, "《中华人民共和国消防法》第五十三条"),
)
# fmt: on

DEPARTMENT_KINDS: dict[str, str] = {
    "urban_management": "城市管理局",
    "water": "水务局",
    "gas": "燃气管理办公室",
    "power": "供电公司",
    "transport": "交通运输局",
    "traffic_police": "公安交通警察大队",
    "gardens": "园林绿化中心",
    "housing": "住房和城乡建设局",
    "ecology_environment": "生态环境分局",
    "market_regulation": "市场监督管理局",
    "civil_affairs": "民政局",
    "emergency": "应急管理局",
    "community_affairs": "综合治理办公室",
}


def categories() -> list[Category]:
    result = []
    for code, name, *_ in _DUTIES:
        kind, major_name = _MAJORS[code[:3]]
        result.append(Category(code=code, name=name, kind=kind, major_code=code[:3], major_name=major_name))
    return result


def duty_rules() -> list[DutyRule]:
    """One rule per duty at its level; a township duty also gets a district rule, the level that answers
    where a township has no office of that kind (and the level a case escalates to)."""
    rules = []
    for code, _name, kind, level, hours, basis in _DUTIES:
        levels = [level, Level.DISTRICT] if level is Level.TOWNSHIP else [level]
        rules += [
            DutyRule(
                category_code=code, level=lv, department_kind=kind, deadline_hours=hours, legal_basis=basis
            )
            for lv in levels
        ]
    return rules


TOWNSHIP_DEPARTMENT_KINDS = ("urban_management", "community_affairs")
CITY_ONLY_KINDS = ("power",)


def department_code(area_code: str, kind: str) -> str:
    """Departments are named by the area they serve and their kind: `210202000000:water`."""
    return f"{area_code}:{kind}"


def department_name(area_name: str, kind: str, level: Level) -> str:
    if level is Level.TOWNSHIP:
        # A township has offices, not bureaux; its 办事处 answers for every kind it is given.
        return f"{area_name}{'综合执法队' if kind == 'urban_management' else '办事处'}"
    if level is Level.CITY and kind == "power":
        return "国网大连供电公司"
    return f"{area_name}{DEPARTMENT_KINDS[kind]}"
