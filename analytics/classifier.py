"""Suggests a complaint type (and so its level) from a resident's free text.

Why this shape: the taxonomy's keywords are the only labelled knowledge we have offline,
and residents paraphrase them ("暖气一点都不热" for 暖气不热). So each type gets a profile
of its keywords and its name, and a text is scored two ways:
- whole keywords found in the text, weighted by length and by how few types share them
  (an IDF: 草坪 belongs to two types, 燃气 to one);
- character bigrams shared with the type's profile, also IDF-weighted, so a keyword
  broken by other words (暖气…不热) or a near miss (路灯坏) still counts a little.
The best score wins; ties go to the more urgent level. No match at all -> None: the
caller must ask for a type rather than guess. Accuracy: `python -m analytics.classifier`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KEYWORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.35
MIN_SCORE = 0.9
"""Below this a text is not classified (one shared common bigram is not evidence)."""
_NOISE = re.compile(r"[\s，。！？、；：,.!?;:“”\"'（）()【】\[\]0-9a-zA-Z]+")


@dataclass(frozen=True, slots=True)
class Suggestion:
    code: str
    level: int
    score: float
    confidence: float
    """Share of the winning score among the top three (1.0 = unambiguous)."""


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


class TypeClassifier:
    """Text -> complaint type code, from a district's taxonomy (`district.complaint_types`)."""

    def __init__(self, complaint_types: Sequence[Any]) -> None:
        self.types = list(complaint_types)
        if not self.types:
            raise ValueError("a classifier needs at least one complaint type")
        self.phrases: list[list[str]] = []
        bigram_profiles: list[set[str]] = []
        for kind in self.types:
            phrases = sorted({p for p in [*kind.keywords, kind.name_zh] if p}, key=len, reverse=True)
            self.phrases.append(phrases)
            bigram_profiles.append(set().union(*(_bigrams(p) for p in phrases)) if phrases else set())
        n = len(self.types)
        phrase_df = Counter(p for phrases in self.phrases for p in set(phrases))
        bigram_df = Counter(b for profile in bigram_profiles for b in profile)
        self.phrase_idf = {p: math.log(1 + n / df) for p, df in phrase_df.items()}
        self.bigram_idf = {b: math.log(1 + n / df) for b, df in bigram_df.items()}
        self.bigram_profiles = bigram_profiles

    def scores(self, text: str) -> list[float]:
        """One score per type, in taxonomy order."""
        clean = _NOISE.sub("", text)
        grams = _bigrams(clean)
        out: list[float] = []
        for phrases, profile in zip(self.phrases, self.bigram_profiles, strict=True):
            score = 0.0
            remaining = clean
            for phrase in phrases:  # longest first; a found phrase is used up once
                if phrase in remaining:
                    score += KEYWORD_WEIGHT * len(phrase) * self.phrase_idf[phrase]
                    remaining = remaining.replace(phrase, "|")
            score += BIGRAM_WEIGHT * sum(self.bigram_idf[b] for b in grams & profile)
            out.append(score)
        return out

    def suggest(self, text: str) -> Suggestion | None:
        """The best type for `text`, or None when nothing in it points to any type."""
        scores = self.scores(text)
        order = sorted(range(len(self.types)),
                       key=lambda i: (-scores[i], self.types[i].level, i))
        best = order[0]
        if scores[best] < MIN_SCORE:
            return None
        top = sum(scores[i] for i in order[:3]) or 1.0
        kind = self.types[best]
        return Suggestion(code=kind.code, level=kind.level, score=round(scores[best], 3),
                          confidence=round(scores[best] / top, 3))

    def __call__(self, text: str) -> str | None:
        """The hotline importer's interface: a type code or None."""
        found = self.suggest(text)
        return found.code if found else None


HAND_WRITTEN: tuple[tuple[str, str], ...] = (
    ("楼道里一股煤气味，好像哪家漏气了，快来人", "gas_leak"),
    ("家里暖气一点都不热，屋里才十四度", "heating_cold"),
    ("我们整栋楼今天早上停暖了，老人孩子冻得不行", "heating_outage"),
    ("小区门口水管爆裂，水冒得到处都是", "water_main_burst"),
    ("人行道上井盖丢失了，晚上有人差点掉下去", "manhole_missing"),
    ("新疆大街路面下沉出现一个大坑，车都绕着走", "road_collapse"),
    ("昨晚大风把路边的树刮倒了，挡住了路", "fallen_tree"),
    ("从昨天开始停水，到现在也没说什么时候来水", "water_outage"),
    ("下水道堵塞，污水都返到院子里了，味道很大", "sewage_overflow"),
    ("一下雨路口就积水，排水不畅，行人没法过", "waterlogging"),
    ("十字路口的红绿灯坏了，一直闪黄灯", "traffic_signal"),
    ("人行道结冰太滑了，一直没人清雪", "ice_snow"),
    ("单元电梯坏了三天，有人被困在里面过", "elevator_fault"),
    ("我家楼下路灯不亮好几天了，晚上太黑", "streetlight_out"),
    ("这条路坑坑洼洼的，路面破损严重", "road_damage"),
    ("有车长期乱停车，把消防通道堵死了", "illegal_parking"),
    ("早市小贩摆摊占道，人车都过不去", "street_vending"),
    ("垃圾箱满溢好几天没人清运，臭气熏天", "garbage_pileup"),
    ("有人往草坪上乱扔纸屑和塑料袋", "litter"),
    ("工地夜里施工噪音太大，吵得睡不着", "noise"),
    ("楼下烧烤店油烟直接往我家窗户里排", "cooking_fumes"),
    ("有人在空地上烧垃圾，冒烟呛人", "open_burning"),
    ("小区里好几条流浪狗，昨天还咬人了", "stray_animals"),
    ("有人夜里往河边倾倒建筑垃圾和渣土", "illegal_dumping"),
    ("一楼住户私搭乱建了一个彩钢房", "illegal_building"),
    ("有人把小区绿地铲了种菜", "green_damage"),
    ("物业不管事，物业费照收，维修没人来", "property_service"),
    ("顶楼屋顶漏雨，墙皮都泡掉了", "roof_leak"),
    ("这路公交班次太少，等了四十分钟", "bus_service"),
    ("楼道墙上贴满了小广告", "small_ads"),
    ("和邻居因为楼上漏水的事吵架，调解一下", "neighbor_dispute"),
    ("去办事窗口工作人员态度很差，互相推诿", "staff_conduct"),
    ("想咨询一下低保怎么申请，家里有困难", "welfare_enquiry"),
    ("燃气管道附近闻到很重的味道，担心泄漏", "gas_leak"),
    ("暖气片冰凉，打电话给供热公司也不管", "heating_cold"),
    ("井盖没了，一个黑窟窿，太危险", "manhole_missing"),
    ("路灯坏了一整排，走夜路害怕", "streetlight_out"),
    ("广场舞音响声音太大，每天晚上都扰民", "noise"),
    ("马路边有一堆装修垃圾没人管", "illegal_dumping"),
    ("电梯停运了，老人上不了楼", "elevator_fault"),
)
"""Residents' wording, written by hand (not from the taxonomy's templates), with the type
a dispatcher would choose; the simulator's texts are the other, easier test set."""


PARAPHRASED: tuple[tuple[str, str], ...] = tuple([("屋里冻得伸不出手，怎么也暖和不起来","heating_cold"),("闻到一股臭鸡蛋味，怀疑是管道里的气","gas_leak"),
("马路中间的盖子没了，一个大窟窿","manhole_missing"),("晚上整条街黑漆漆的，灯一个都没亮","streetlight_out"),
("半夜有人装修用电钻，根本没法睡觉","noise"),("车子横七竖八地停在人行道上","illegal_parking"),
("路边好几个卖水果的推车把路占了","street_vending"),("院里有条狗见人就扑，孩子都不敢出门","stray_animals"),
("有人在河边堆了一大堆砖头水泥块","illegal_dumping"),("路上全是冰，老人摔了好几个","ice_snow"),
("家里水龙头拧开一滴水都没有","water_outage"),("对面有人在烧树叶，烟很大","open_burning"),
("小区里的树被人砍了好几棵","green_damage"),("马路上出现一个很深的洞，车轮陷进去了","road_collapse"),
("十字路口指挥灯全灭了，车乱成一团","traffic_signal"),("天花板往下滴水，一下雨就这样","roof_leak"),
("大雨过后路上的水没过脚踝","waterlogging"),("电线杆上贴得乱七八糟的广告","small_ads"),
("楼上天天跺脚，跟他说了还骂人","neighbor_dispute"),("社区办事员爱答不理，让我跑了三趟","staff_conduct"),
("老人没有收入，想问问能不能申请补助","welfare_enquiry"),("楼下饭馆整天往外冒黑烟，呛得开不了窗","cooking_fumes"),
("大风把路边一棵大树吹断了，横在路上","fallen_tree"),("地下室的管子裂了，水哗哗往外流","water_main_burst"),
("一楼在院子里盖了个铁皮房","illegal_building"),("小区保安和保洁都不见人，交了钱不办事","property_service"),
("井里的脏水漫到了马路上，臭得很","sewage_overflow"),("草地上到处是塑料袋和饮料瓶","litter"),
("垃圾桶三天没人倒了，苍蝇乱飞","garbage_pileup"),("家里一直没来热乎气，已经一个礼拜了","heating_outage")])
"""The same problems in words that avoid the taxonomy's keywords (written after the fact,
never used to tune): what a keyword classifier cannot know. The point of measuring it is
the split between right, unclassified (the caller asks for a type) and wrong."""


def accuracy(classifier: Any, labelled: Sequence[tuple[str, str]]) -> tuple[float, list[tuple[str, str, str | None]]]:
    """Share of texts classified as labelled, and the misses (text, expected, got)."""
    misses = [(text, want, got) for text, want in labelled if (got := classifier(text)) != want]
    return (1 - len(misses) / len(labelled)) if labelled else 0.0, misses


def main() -> None:
    """Print accuracy on hand-written texts and on a week of simulator texts."""
    from datetime import date, timedelta

    from analytics.hotline_csv import KeywordClassifier
    from analytics.simulator import ComplaintSimulator
    from streams.district import load_district

    district = load_district()

    class _Codes:
        def allocate(self, created_at: Any, count: int = 1) -> list[str]:
            return [f"PF-{created_at:%Y%m%d}-{i:06d}" for i in range(1, count + 1)]

    sim = ComplaintSimulator(district, None, None, codes=_Codes())
    simulated = [(c.events[0].text or "", c.category) for k in range(0, 360, 30)
                 for c in sim.plan_day(date(2026, 1, 1) + timedelta(days=k))]
    for name, clf in (("n-gram", TypeClassifier(district.complaint_types)),
                      ("keyword (hotline importer)", KeywordClassifier(district.complaint_types))):
        hand, misses = accuracy(clf, HAND_WRITTEN)
        simu, _ = accuracy(clf, simulated)
        para, para_misses = accuracy(clf, PARAPHRASED)
        unclassified = sum(1 for _, _, got in para_misses if got is None)
        print(f"{name}: hand-written {hand:.1%} of {len(HAND_WRITTEN)}, simulator {simu:.1%} of "
              f"{len(simulated)}, paraphrased {para:.1%} of {len(PARAPHRASED)} "
              f"({unclassified} unclassified, {len(para_misses) - unclassified} wrong)")
        for text, want, got in misses:
            print(f"   miss: {text} -> {got} (want {want})")


if __name__ == "__main__":
    main()
