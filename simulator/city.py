"""A deterministic city for simulations and benchmarks: districts, schools, classes, students,
guardians, staff. Pure data from a seed and a scale; no I/O (the city's real shape is in DOMAIN.md)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

FULL_SCHOOLS = 508
FULL_STUDENTS = 557_000  # participating students at full scale
PARTICIPATION = 0.785  # share of eligible students who take part (DOMAIN.md)
HARDSHIP_SHARE = 0.03  # families in economic hardship, served free (R9)
APP_SHARE = 0.7  # guardians with the parents' app installed (push), the rest get SMS only
EXTENDED_CARE_SHARE = 0.3  # families who need care past the normal session end (R8)
DISTRICT_NAMES = ["上城区", "下城区", "江干区", "拱墅区", "西湖区", "滨江区", "萧山区", "余杭区", "富阳区",
                  "临安区", "桐庐县", "淳安县", "建德市", "经济技术开发区"]
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "明华伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞平刚桂英文辉建国玉兰萍红鹏飞宇浩然子轩梓涵欣怡雨桐博文思远佳琪一诺"


@dataclass(frozen=True)
class Guardian:
    guardian_id: str
    name: str
    phone: str
    push_token: str | None
    locale: str


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str
    school_id: str
    class_id: str
    guardian: Guardian
    authorised_pickup: tuple[str, ...]
    participates: bool
    hardship: bool
    extended_care: bool


@dataclass
class School:
    school_id: str
    name: str
    district_id: str
    staff_ids: list[str]
    students: list[Student] = field(default_factory=list)

    @property
    def participants(self) -> list[Student]:
        return [s for s in self.students if s.participates]


@dataclass
class City:
    seed: int
    districts: dict[str, str]
    schools: list[School]

    @property
    def participants(self) -> list[Student]:
        return [s for school in self.schools for s in school.participants]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def staff_name(staff_id: str) -> str:
    """A staff member's name, the same for the same id: messages call them by surname + 老师 (issue 16)."""
    return _name(random.Random(staff_id))


def generate(scale: float = 0.002, seed: int = 2026, *, min_schools: int = 2, prefix: str = "") -> City:
    """scale=1.0 is the whole city (508 schools, 557,000 participating students); the default makes a
    city small enough to run through every service in about a minute. `prefix` namespaces every id so
    that several runs can share one database; the city's shape depends on the seed alone."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(seed)
    n_schools = max(min_schools, round(FULL_SCHOOLS * scale))
    participants = max(n_schools * 10, round(FULL_STUDENTS * scale))
    eligible = round(participants / PARTICIPATION)
    n_districts = min(len(DISTRICT_NAMES), max(1, round(n_schools / 36)))
    districts = {f"dst-{prefix}{i + 1:02d}": DISTRICT_NAMES[i] for i in range(n_districts)}
    district_ids = list(districts)
    schools = []
    for i in range(n_schools):
        did = district_ids[i % n_districts]
        school_id = f"sch-{prefix}{i + 1:04d}"
        staff = [f"stf-{prefix}{i + 1:04d}-{j + 1:02d}" for j in range(max(2, eligible // n_schools // 40))]
        schools.append(School(school_id, f"{districts[did]}第{i + 1}小学", did, staff))
    # Students spread over schools unevenly (urban schools are larger), deterministic.
    weights = [rng.uniform(0.5, 1.5) for _ in schools]
    total_w = sum(weights)
    counter = 0
    for school, w in zip(schools, weights):
        size = max(10, round(eligible * w / total_w))
        for k in range(size):
            counter += 1
            sid = f"stu-{prefix}{counter:07d}"
            gid = f"gdn-{prefix}{counter:07d}"
            guardian = Guardian(
                gid, _name(rng), f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                f"push-{rng.getrandbits(64):016x}" if rng.random() < APP_SHARE else None,
                "en" if rng.random() < 0.02 else "zh-CN",
            )
            school.students.append(Student(
                sid, _name(rng), school.school_id, f"{school.school_id}-g{1 + k % 6}c{1 + (k // 6) % 8}", guardian,
                (f"pku-{prefix}{counter:07d}",) if rng.random() < 0.4 else (),
                rng.random() < PARTICIPATION, rng.random() < HARDSHIP_SHARE, rng.random() < EXTENDED_CARE_SHARE,
            ))
    return City(seed, districts, schools)
