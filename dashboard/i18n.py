"""Interface language: Chinese for the operators, English on a switch (`?lang=en`).

Every label goes through `tr(key, lang)`, so a page never hard-codes one language; numbers
and times go through `number`, `percent` and `when`, so they read the way a Chinese (or
English) reader expects them (`2026年5月12日 14:09` / `12 May 2026 14:09`).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

TEXT: dict[str, tuple[str, str]] = {
    # navigation
    "title": ("平房区城市运行指挥中心", "Pingfang District Command Center"),
    "nav.wall": ("指挥大屏", "Wall"),
    "nav.analyst": ("研判分析", "Analyst"),
    "nav.leader": ("领导驾驶舱", "Leader"),
    "nav.tester": ("视频回放测试", "Tester"),
    "switch": ("English", "中文"),
    # wall
    "kpi.today": ("今日投诉", "Complaints today"),
    "kpi.ontime": ("按时办结率", "On-time rate"),
    "kpi.rating": ("平均满意度", "Mean rating"),
    "kpi.cameras": ("在线摄像头", "Cameras online"),
    "kpi.rate": ("识别/分钟", "Sightings/min"),
    "kpi.overdue": ("超期未办", "Overdue"),
    "kpi.total": ("累计", "all time"),
    "wall.flow": ("实时诉求", "Live complaints"),
    "wall.alerts": ("实时预警", "Live alerts"),
    "wall.ranking": ("部门满意度排名", "Department satisfaction"),
    "wall.no_alerts": ("暂无预警", "No alerts"),
    "wall.no_complaints": ("暂无诉求", "No complaints yet"),
    "wall.close": ("关闭", "Close"),
    "wall.stale": ("数据暂停更新(数据库不可读)", "Not updating: the store cannot be read"),
    "wall.camera": ("摄像头", "Camera"),
    "wall.snapshot_none": ("暂无抓拍", "No snapshot yet"),
    "wall.recent": ("最近识别", "Recent sightings"),
    "wall.grid": ("网格", "Grid"),
    "wall.households": ("户数", "Households"),
    "wall.people": ("人口", "People"),
    "wall.worker": ("网格员", "Grid worker"),
    "wall.open": ("未办结诉求", "Open complaints"),
    "wall.none": ("无", "None"),
    "wall.legend": ("网格: 绿 正常 · 黄 关注 · 红 告警 | 摄像头: 绿 在线 · 红 离线 · 灰 未上报 | 线: 近15分钟轨迹",
                    "Grids: green normal · yellow attention · red alarm | cameras: green online · red offline · "
                    "grey silent | lines: trails of the last 15 min"),
    "wall.online": ("在线", "online"),
    "wall.offline": ("离线", "offline"),
    "wall.silent": ("未上报", "no heartbeat"),
    # analyst
    "an.mode": ("检索方式", "Search by"),
    "an.exact": ("车牌精确", "Plate (exact)"),
    "an.pattern": ("车牌模糊(通配)", "Plate wildcard"),
    "an.fuzzy": ("车牌近似", "Plate fuzzy"),
    "an.face": ("布控人员", "Watch-list name"),
    "an.photo": ("照片比对", "Photo"),
    "an.camera": ("点位+时段", "Camera + time"),
    "an.query": ("车牌 / 姓名", "Plate / name"),
    "an.cameras": ("摄像头", "Cameras"),
    "an.since": ("开始时间", "From"),
    "an.until": ("结束时间", "Until"),
    "an.upload": ("拖入或点击上传人脸照片", "Drop or click to upload a face photo"),
    "an.search": ("检索", "Search"),
    "an.print": ("打印", "Print"),
    "an.csv": ("导出CSV", "Export CSV"),
    "an.results": ("检索结果", "Results"),
    "an.route": ("行动轨迹", "Route"),
    "an.play": ("播放", "Play"),
    "an.pause": ("暂停", "Pause"),
    "an.companions": ("同行分析", "Co-travel"),
    "an.clones": ("套牌分析", "Cloned plates"),
    "an.nothing": ("未找到记录", "Nothing found"),
    "an.found": ("条记录", "sightings"),
    "an.col.time": ("时间", "Time"),
    "an.col.camera": ("点位", "Camera"),
    "an.col.place": ("位置", "Place"),
    "an.col.identity": ("车牌/身份", "Plate / identity"),
    "an.col.kind": ("类型", "Kind"),
    "an.col.confidence": ("置信度", "Confidence"),
    "an.col.cost": ("差异", "Match cost"),
    "an.col.snapshot": ("抓拍", "Snapshot"),
    "an.col.cameras": ("共同点位数", "Shared cameras"),
    "an.col.evidence": ("证据", "Evidence"),
    "an.col.alert": ("预警", "Alert"),
    "an.no_companions": ("未发现同行", "No co-travellers"),
    "an.no_clones": ("未发现套牌", "No cloned-plate alerts"),
    "an.photo_none": ("照片中未找到人脸", "No face found in the photo"),
    # leader
    "ld.period": ("统计时段", "Period"),
    "ld.created": ("新增诉求", "Complaints"),
    "ld.closed": ("办结", "Closed"),
    "ld.rating": ("平均评价", "Mean rating"),
    "ld.ontime": ("按时率", "On-time"),
    "ld.trend": ("诉求趋势", "Trend"),
    "ld.ranking": ("部门排名(累计)", "Department ranking (all time)"),
    "ld.ontime_chart": ("部门按时办结率", "On-time rate by department"),
    "ld.heat": ("诉求热力图", "Complaint heat map"),
    "ld.worst": ("问题最多的网格", "Worst grids"),
    "ld.uptime": ("摄像头运行", "Camera uptime"),
    "ld.col.rank": ("名次", "Rank"),
    "ld.col.dept": ("部门", "Department"),
    "ld.col.volume": ("受理量", "Volume"),
    "ld.col.ontime": ("按时率", "On-time"),
    "ld.col.median": ("处置中位(小时)", "Median hours"),
    "ld.col.rating": ("满意度", "Rating"),
    "ld.col.grid": ("网格", "Grid"),
    "ld.col.count": ("诉求数", "Complaints"),
    "ld.col.open": ("未办结", "Open"),
    "ld.col.overdue": ("超期", "Overdue"),
    "ld.col.offline": ("离线次数", "Offline incidents"),
    "ld.col.status": ("当前状态", "Now"),
    "ld.col.last": ("最后心跳", "Last heartbeat"),
    "ld.cams_summary": ("在线 {online} / 共 {total} 个点位; 时段内离线 {incidents} 次",
                        "{online} of {total} cameras online now; {incidents} offline incidents in the period"),
    # tester
    "ts.video": ("样例视频", "Sample video"),
    "ts.upload": ("或上传视频(mp4)", "or upload a video (mp4)"),
    "ts.start": ("开始回放", "Replay"),
    "ts.stop": ("停止", "Stop"),
    "ts.score": ("实时评分", "Running score"),
    "ts.progress": ("进度", "Progress"),
    "ts.sightings": ("识别结果", "Sightings"),
    "ts.idle": ("选择视频后点击开始回放", "Choose a video and press Replay"),
    "ts.no_truth": ("此视频没有真值文件, 不评分", "No truth file for this video: not scored"),
    "ts.plates": ("车牌", "Plates"),
    "ts.faces": ("人脸", "Faces"),
    "ts.precision": ("准确率", "Precision"),
    "ts.recall": ("召回率", "Recall"),
    "ts.truth": ("真值", "Truth"),
    "ts.found": ("识别", "Found"),
    "ts.correct": ("正确", "Correct"),
    "ts.done": ("回放完成", "Replay finished"),
    "ts.last_hit": ("最近检出画面", "Latest frame with a detection"),
    "ts.boxes": ("检测框", "boxes"),
    "ts.running": ("回放中", "Replaying"),
    "ts.no_videos": ("没有样例视频: 运行 python -m sample_media.generate --if-missing",
                     "No sample videos: run python -m sample_media.generate --if-missing"),
    # login, roles, admin (issue 9)
    "nav.admin": ("系统管理", "Admin"),
    "nav.logout": ("退出", "Log out"),
    "login.title": ("用户登录", "Log in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.wrong": ("用户名或密码错误", "Wrong user name or password"),
    "login.no_users": ("尚无用户: 请在服务器上运行 cityops users add 用户名 --role admin",
                       "No users yet: run cityops users add NAME --role admin on the server"),
    "login.throttled": ("密码错误次数过多, 请 {s} 秒后再试", "Too many wrong passwords: try again in {s} s"),
    "login.note": ("账号由管理员用 cityops users add 创建; 所有检索均记入审计日志",
                   "Accounts are made by an admin with cityops users add; every search is audited"),
    "role.operator": ("值班员", "operator"), "role.analyst": ("研判员", "analyst"),
    "role.leader": ("领导", "leader"), "role.tester": ("测试员", "tester"), "role.admin": ("管理员", "admin"),
    "denied.page": ("您的角色({role})无权访问此页面", "Your role ({role}) may not open this page"),
    "adm.users": ("用户", "Users"),
    "adm.audit": ("审计日志", "Audit log"),
    "adm.csv": ("导出全部审计日志 (CSV)", "Export the whole audit log (CSV)"),
    "adm.actor": ("按用户筛选", "Filter by user"),
    "adm.refresh": ("刷新", "Refresh"),
    "adm.col.name": ("用户名", "Name"), "adm.col.role": ("角色", "Role"),
    "adm.col.state": ("状态", "State"), "adm.col.created": ("创建时间", "Created"),
    "adm.col.ts": ("时间", "Time"), "adm.col.actor": ("用户", "User"), "adm.col.channel": ("渠道", "Channel"),
    "adm.col.action": ("操作", "Action"), "adm.col.query": ("检索内容", "Query"),
    "adm.col.results": ("结果数", "Results"), "adm.col.outcome": ("结果", "Outcome"),
    "adm.enabled": ("启用", "enabled"), "adm.disabled": ("停用", "disabled"),
    "adm.note": ("审计日志只可追加, 不可修改或删除; 用户由 cityops users 命令管理",
                 "The audit log is append-only (no edit, no delete); users are managed with cityops users"),
}

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def lang_of(value: object) -> str:
    """A supported language from a query parameter or store value (anything else: Chinese)."""
    return value if value in LANGS else DEFAULT_LANG  # type: ignore[return-value]


def tr(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def number(value: float | int | None, digits: int = 0) -> str:
    """Grouped thousands in both languages (`12,345`); a dash for a missing value."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def when(ts: datetime | date | None, lang: str, zone: ZoneInfo | None = None, *,
         with_date: bool = True, seconds: bool = False) -> str:
    """A time as its reader writes it, in the district's zone."""
    if ts is None:
        return "–"
    if isinstance(ts, datetime):
        local = ts.astimezone(zone) if zone is not None and ts.tzinfo is not None else ts
        clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
        if not with_date:
            return clock
        day = day_label(local.date(), lang)
        return f"{day} {clock}"
    return day_label(ts, lang)


def day_label(day: date, lang: str, year: bool = False) -> str:
    if lang == "en":
        text = f"{day.day} {MONTHS_EN[day.month - 1]}"
        return f"{text} {day.year}" if year else text
    text = f"{day.month}月{day.day}日"
    return f"{day.year}年{text}" if year else text


def age(minutes: float, lang: str) -> str:
    """How long ago, coarse: minutes, hours, days."""
    m = max(0, int(minutes))
    if m < 60:
        return f"{m} 分钟" if lang != "en" else f"{m} min"
    if m < 48 * 60:
        return f"{m // 60} 小时" if lang != "en" else f"{m // 60} h"
    return f"{m // 1440} 天" if lang != "en" else f"{m // 1440} d"


STATES: dict[str, tuple[str, str]] = {
    "created": ("已上报", "reported"), "accepted": ("已受理", "accepted"),
    "dispatched": ("已派单", "dispatched"), "handled": ("已处置", "handled"),
    "supervised": ("督办中", "supervised"), "rated": ("已评价", "rated"),
    "closed": ("已办结", "closed"), "redispatched": ("二次派单", "re-dispatched"),
}

ALERT_KINDS: dict[str, tuple[str, str]] = {
    "watchlist": ("布控命中", "Watch list"), "cloned_plate": ("疑似套牌", "Cloned plate"),
    "co_travel": ("同行预警", "Co-travel"), "overdue_warning": ("超期预警", "Due soon"),
    "overdue": ("超期", "Overdue"), "complaint_notice": ("热点诉求", "Notice"),
    "camera_offline": ("摄像头离线", "Camera offline"),
}


def state(value: str, lang: str) -> str:
    pair = STATES.get(value)
    return value if pair is None else pair[1 if lang == "en" else 0]


def alert_kind(value: str, lang: str) -> str:
    pair = ALERT_KINDS.get(value)
    return value if pair is None else pair[1 if lang == "en" else 0]
