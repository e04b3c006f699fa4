"""Chinese free text: managers' visit notes, service-request descriptions, survey comments.

Templates are sequences of literal parts and slots; a slot is filled per row from arrays, so a column of
texts is built with a loop over templates, never over rows. Some texts carry personal data on purpose (the
customer's name, a mobile number, an identity number) for the privacy scrubber to find.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crm.synthetic.rand import uniform

# {who}: the customer's name (sometimes) or a generic word; {pii}: an optional clause with a phone or ID number
NOTES = {
    "REVIEW": (
        "对{who}开展贷后检查，{detail}，借款资金按约定用途使用{pii}。",
        "贷后走访{who}，查看经营场所及库存，{detail}{pii}。",
        "按季度贷后管理要求与{who}面谈，{detail}，暂未发现重大风险信号{pii}。",
        "贷后检查：{detail}，已提示客户按时还款{pii}。",
    ),
    "MARKET": (
        "营销拜访{who}，介绍{product}，客户表示{reaction}{pii}。",
        "向{who}推荐{product}，客户{reaction}，约定后续跟进{pii}。",
        "走访{who}了解金融需求，客户近期有约{amount}万元资金需求，拟推荐{product}{pii}。",
    ),
    "SERVICE": (
        "回访{who}，了解近期业务办理体验，客户对{aspect}{feeling}{pii}。",
        "协助{who}办理{product}相关业务，客户对办理效率{feeling}{pii}。",
    ),
    "COLLECT": (
        "催收提醒：{who}名下贷款已逾期{days}天，客户称{excuse}，承诺近期归还{pii}。",
        "电话联系{who}，告知逾期{days}天及征信影响，客户表示{excuse}{pii}。",
        "上门催收，{who}未在家，已留下催收通知书{pii}。",
    ),
    "CARE": (
        "节日问候{who}，送上{gift}，客户表示感谢{pii}。",
        "客户生日关怀，致电{who}送上祝福{pii}。",
        "邀请{who}参加{event}，客户{reaction2}{pii}。",
    ),
    # issue 20: stage actions and value-added services
    "ONBOARD": (
        "新客户首访：拜访{who}，介绍客户经理服务团队及{product}，了解客户基本金融需求{pii}。",
        "开户后首次走访{who}，核实客户信息，客户对开户办理{feeling}{pii}。",
    ),
    "RETAIN": (
        "客户挽留：{who}近期账户余额下降较多，了解原因，客户称{excuse}，已介绍{product}{pii}。",
        "联系{who}了解资金流出情况，客户对{aspect}{feeling}，约定后续跟进{pii}。",
    ),
    "ALERT": (
        "预警核查：{who}名下贷款出现逾期{days}天，核实经营及还款来源，客户称{excuse}{pii}。",
        "针对逾期预警走访{who}，{detail}，已提示按时还款{pii}。",
    ),
    "BRIEF": (
        "向{who}推送行业资讯与市场简报，客户表示{reaction}{pii}。",
        "为{who}解读近期行业政策及利率走势，{detail}{pii}。",
    ),
    "TRAIN": (
        "邀请{who}参加财务管理培训，客户{reaction2}{pii}。",
        "为{who}财务人员开展网银及结算业务培训{pii}。",
    ),
    "EVENT": (
        "邀请{who}参加{event}，客户{reaction2}{pii}。",
        "{who}出席{event}，交流近期经营情况{pii}。",
    ),
    "ADVISE": (
        "为{who}提供融资方案顾问咨询，建议{product}，客户{reaction}{pii}。",
        "顾问咨询：与{who}讨论资金规划及{product}，{detail}{pii}。",
    ),
}
DETAILS = (
    "企业生产经营正常",
    "订单较上年有所增长",
    "应收账款有所增加，需持续关注",
    "库存周转良好",
    "实际控制人配合度高",
    "资金流水与经营规模基本匹配",
    "近期原材料价格上涨，利润有所下降",
    "客户反映回款周期拉长",
    "新增一条生产线，产能提升",
    "经营情况稳定，还款来源充足",
)
PRODUCTS_TXT = (
    "个人消费贷款",
    "经营贷款",
    "流动资金贷款",
    "结构性存款",
    "理财产品",
    "代发工资服务",
    "手机银行",
    "信用卡分期",
    "供应链融资",
    "大额存单",
    "基金定投",
    "保险产品",
)
REACTIONS = ("有兴趣，需回去考虑", "暂无需求", "比较认可，近期办理", "希望利率再优惠一些", "需与家人商量")
REACTIONS2 = ("愿意参加", "因时间原因无法参加", "表示感兴趣")
ASPECTS = ("网点服务", "客户经理服务", "手机银行", "贷款审批速度", "利率水平")
FEELINGS = ("比较满意", "非常满意", "一般", "有些不满", "满意，提出了改进建议")
EXCUSES = ("近期资金周转困难", "工资延迟发放", "生意回款慢", "家中有急事用钱", "忘记还款日期")
GIFTS = ("中秋月饼", "新春礼品", "端午粽子", "台历")
EVENTS = ("理财沙龙", "客户答谢会", "企业家论坛", "亲子活动")

SR_TEXTS = {
    "INQ": (
        "咨询{product}的办理条件和所需材料{pii}。",
        "询问{product}利率及期限{pii}。",
        "咨询账户余额变动情况{pii}。",
    ),
    "CHG": ("申请变更预留手机号{pii}。", "申请修改联系地址{pii}。", "申请变更单位信息{pii}。"),
    "DISP": (
        "对{date}一笔{amount}元的交易有异议，称非本人操作{pii}。",
        "反映扣款金额与账单不一致{pii}。",
        "一笔跨行转账未到账，请求核查{pii}。",
    ),
    "CMPL": (
        "投诉网点排队时间过长{pii}。",
        "投诉客户经理未及时回复{pii}。",
        "投诉贷款审批进度慢，多次催问无果{pii}。",
        "投诉手机银行频繁闪退{pii}。",
        "对收费项目不满，要求退还手续费{pii}。",
    ),
    "LOAN": (
        "申请提前还款{pii}。",
        "申请调整还款日{pii}。",
        "咨询贷款展期事宜{pii}。",
        "申请开具贷款结清证明{pii}。",
    ),
    "CARD": ("申请提高信用卡额度{pii}。", "银行卡丢失申请挂失补办{pii}。", "申请信用卡账单分期{pii}。"),
}
COMMENTS_GOOD = (
    "客户经理很专业，服务热情。",
    "办理速度很快，满意。",
    "{manager}经理服务周到，点赞！",
    "手机银行操作方便。",
    "整体不错，希望利率再优惠一些。",
)
COMMENTS_MID = (
    "还可以，等待时间有点长。",
    "一般，希望改进线上渠道。",
    "产品种类可以再丰富些。",
    "服务态度好，但流程繁琐。",
)
COMMENTS_BAD = (
    "投诉处理太慢，很不满意。",
    "电话一直打不通，问题拖了很久才解决。",
    "收费不透明，要求解释。",
    "客户经理态度差，希望更换。",
    "问题至今未解决，非常失望。",
)
PII_CLAUSES = ("，联系电话{mobile}", "，客户新手机号{mobile}", "，已核对身份证号{id}", "，客户{name}本人确认")


def _fill(templates: tuple[str, ...], idx: np.ndarray, slots: dict[str, np.ndarray]) -> np.ndarray:
    """Fill ``templates[idx[i]]`` with ``slots[name][i]`` (a loop over templates and their parts)."""
    out = np.empty(len(idx), dtype=object)
    for t, tpl in enumerate(templates):
        m = np.flatnonzero(idx == t)
        if len(m) == 0:
            continue
        text = np.full(len(m), "", dtype=object)
        for part in re.split(r"(\{\w+\})", tpl):
            if not part:
                continue
            text = text + slots[part[1:-1]][m].astype(object) if part.startswith("{") else text + part
        out[m] = text
    return out


def _pick(u: np.ndarray, words) -> np.ndarray:
    w = np.asarray(words, dtype=object)
    return w[np.minimum((u * len(w)).astype(np.int64), len(w) - 1)]


def pii_clause(
    seed: int,
    key: np.ndarray,
    name: np.ndarray,
    mobile: np.ndarray,
    idn: np.ndarray,
    p_mobile: float,
    p_id: float,
    p_name: float,
) -> np.ndarray:
    u = uniform(seed, "pii", key)
    which = np.select([u < p_mobile, u < p_mobile + p_id, u < p_mobile + p_id + p_name], [0, 2, 3], -1)
    which = np.where((which == 0) & (uniform(seed, "pii2", key) < 0.5), 1, which)
    idn = np.where(pd.isna(np.asarray(idn, dtype=object)), "", np.asarray(idn, dtype=object))
    slots = {"mobile": mobile, "id": idn, "name": name}
    out = np.full(len(key), "", dtype=object)
    has = which >= 0
    out[has] = _fill(PII_CLAUSES, which[has], {k: np.asarray(v, dtype=object)[has] for k, v in slots.items()})
    # an ID clause without an ID on file falls back to nothing
    out = np.where((which == 2) & (idn == ""), "", out)
    return out


def visit_notes(
    seed: int,
    key: np.ndarray,
    purpose: np.ndarray,
    is_corp: np.ndarray,
    name: np.ndarray,
    mobile: np.ndarray,
    idn: np.ndarray,
    overdue_days: np.ndarray,
) -> np.ndarray:
    u = [uniform(seed, f"note{i}", key) for i in range(8)]
    named = u[0] < 0.15
    who = np.where(named, name, np.where(is_corp, "企业负责人", "客户")).astype(object)
    slots = {
        "who": who,
        "detail": _pick(u[1], DETAILS),
        "product": _pick(u[2], PRODUCTS_TXT),
        "reaction": _pick(u[3], REACTIONS),
        "reaction2": _pick(u[3], REACTIONS2),
        "aspect": _pick(u[4], ASPECTS),
        "feeling": _pick(u[5], FEELINGS),
        "excuse": _pick(u[6], EXCUSES),
        "gift": _pick(u[4], GIFTS),
        "event": _pick(u[5], EVENTS),
        "days": np.maximum(overdue_days, 1).astype(str).astype(object),
        "amount": ((5 + u[6] * 495).astype(np.int64) * np.where(is_corp, 10, 1)).astype(str).astype(object),
        "pii": pii_clause(seed, key, name, mobile, idn, 0.03, 0.012, 0.04),
    }
    out = np.empty(len(key), dtype=object)
    for p, templates in NOTES.items():  # loop over purposes
        m = np.flatnonzero(purpose == p)
        if len(m) == 0:
            continue
        idx = np.minimum((u[7][m] * len(templates)).astype(np.int64), len(templates) - 1)
        out[m] = _fill(templates, idx, {k: v[m] for k, v in slots.items()})
    return out


def sr_descriptions(
    seed: int,
    key: np.ndarray,
    category: np.ndarray,
    name: np.ndarray,
    mobile: np.ndarray,
    idn: np.ndarray,
    date_txt: np.ndarray,
) -> np.ndarray:
    u = [uniform(seed, f"srd{i}", key) for i in range(3)]
    slots = {
        "product": _pick(u[0], PRODUCTS_TXT),
        "date": date_txt,
        "amount": np.round(10 + u[1] ** 3 * 50000, 2).astype(str).astype(object),
        "pii": pii_clause(seed, key + 17, name, mobile, idn, 0.12, 0.03, 0.05),
    }
    out = np.empty(len(key), dtype=object)
    for cat, templates in SR_TEXTS.items():
        m = np.flatnonzero(category == cat)
        if len(m) == 0:
            continue
        idx = np.minimum((u[2][m] * len(templates)).astype(np.int64), len(templates) - 1)
        out[m] = _fill(templates, idx, {k: v[m] for k, v in slots.items()})
    return out


def survey_comments(
    seed: int, key: np.ndarray, csat: np.ndarray, manager: np.ndarray, name: np.ndarray, mobile: np.ndarray
) -> np.ndarray:
    u = [uniform(seed, f"svc{i}", key) for i in range(3)]
    has = u[0] < np.where(csat <= 2, 0.7, 0.35)
    out = np.full(len(key), None, dtype=object)
    for bucket, templates in (
        (csat >= 4, COMMENTS_GOOD),
        (csat == 3, COMMENTS_MID),
        (csat <= 2, COMMENTS_BAD),
    ):
        m = np.flatnonzero(bucket & has)
        if len(m) == 0:
            continue
        idx = np.minimum((u[1][m] * len(templates)).astype(np.int64), len(templates) - 1)
        out[m] = _fill(templates, idx, {"manager": np.asarray(manager, dtype=object)[m].astype(str).astype(object)})
    # some comments leave a name or a phone number for a call back
    extra = has & (u[2] < 0.06)
    tail = np.where(u[2] < 0.03, "请回电" + np.asarray(mobile, dtype=object), "我是" + np.asarray(name, dtype=object))
    filled = np.where(pd.isna(out), "", out).astype(object)
    return np.where(extra, filled + tail, out)
