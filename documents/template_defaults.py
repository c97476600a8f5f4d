"""The built-in wording of each document kind (version 0 in the store): what a fresh install
prints until an administrator edits it. Written from 人民调解法 art. 26, 28 and 29.

Placeholders are plain names ({{ org_name }}); each line of a body is one paragraph.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import N_

KINDS = ("agreement", "agreement_closing", "minutes", "oral_agreement", "termination")
KIND_LABELS = {
    "agreement": N_("Mediation agreement (boilerplate)"),
    "agreement_closing": N_("Mediation agreement (effect and judicial confirmation)"),
    "minutes": N_("Mediation minutes"),
    "oral_agreement": N_("Record of an oral agreement (art. 28)"),
    "termination": N_("Termination notice (art. 26)"),
}
COMMON = ("org_name", "case_number", "dispute_type", "date", "mediator_name", "parties")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "agreement": COMMON,
    "agreement_closing": COMMON,
    "minutes": (*COMMON, "place", "started_at"),
    "oral_agreement": (*COMMON, "content"),
    "termination": (*COMMON, "reason"),
}


@dataclass(frozen=True)
class Wording:
    title: str
    body: str


DEFAULTS: dict[str, Wording] = {
    "agreement": Wording(
        "人民调解协议书",
        "经{{ org_name }}主持调解，各方当事人在平等自愿、互谅互让的基础上，自愿达成如下协议：",
    ),
    "agreement_closing": Wording(
        "协议效力与司法确认",
        "（一）本协议经各方当事人签名、人民调解员签名并加盖{{ org_name }}印章后生效"
        "（《中华人民共和国人民调解法》第二十九条）。各方当事人以电子签名方式签署，"
        "人民调解委员会以电子印章盖章。\n"
        "（二）本协议生效后具有法律约束力，各方当事人应当按照约定履行"
        "（《中华人民共和国人民调解法》第三十一条）。\n"
        "（三）各方当事人认为有必要的，可以自本协议生效之日起三十日内，共同向有管辖权的人民法院"
        "申请司法确认（《中华人民共和国人民调解法》第三十三条、《中华人民共和国民事诉讼法》"
        "第二百零五条）。人民法院依法确认本协议有效后，一方当事人拒绝履行或者未全部履行的，"
        "对方当事人可以向人民法院申请强制执行。\n"
        "（四）本协议生效后，当事人之间就协议的履行或者协议的内容发生争议的，"
        "一方当事人可以向人民法院提起诉讼。\n"
        "（五）本协议的电子文本由各方当事人各持一份，{{ org_name }}留存一份，各份具有同等效力。"
        "协议版本及其摘要载于页脚，可扫描二维码核验本协议的真实性和完整性。",
    ),
    "minutes": Wording(
        "人民调解笔录",
        "调解员告知：人民调解遵循自愿、平等、合法的原则，当事人享有自主决定接受、不接受或者终止"
        "调解的权利，有权要求调解公开或者不公开进行（《中华人民共和国人民调解法》第二十三条）。\n"
        "以上笔录经当事人阅看（或者向其宣读），确认无误后签名或者捺印。",
    ),
    "oral_agreement": Wording(
        "口头调解协议记录",
        "上述内容系各方当事人在{{ org_name }}主持下自愿达成的口头调解协议，由人民调解员"
        "{{ mediator_name }}如实记录（《中华人民共和国人民调解法》第二十八条）。\n"
        "各方当事人对以上记录内容无异议，同意按照约定履行。口头调解协议自各方当事人达成协议之日起生效。",
    ),
    "termination": Wording(
        "终止调解告知书",
        "{{ parties }}：\n"
        "你们之间的{{ dispute_type }}纠纷（{{ case_number }}），"
        "经{{ org_name }}调解，未能达成调解协议。"
        "依照《中华人民共和国人民调解法》第二十六条的规定，本委员会决定终止调解。\n"
        "终止调解的理由：{{ reason }}\n"
        "你们可以依法通过下列途径维护自己的权利：\n"
        "（一）属于仲裁范围的，可以依法向有管辖权的仲裁机构申请仲裁；\n"
        "（二）可以依法请求有关行政机关处理；\n"
        "（三）可以依法向有管辖权的人民法院提起诉讼。\n"
        "特此告知。",
    ),
}
