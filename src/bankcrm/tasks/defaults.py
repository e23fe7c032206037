"""The default rules: SPEC 5.3 events and 5.4 needs, with exactly those rule ids.

Each condition is the SPEC trigger written over the rule feature table
(``bankcrm.analytics.rule_features.RULE_FEATURE_COLUMNS`` plus the published scores). The
windows live in the feature definitions; the thresholds live here, where an analyst can see
and change them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# who does what per tier for the care rules: VIP a call or visit, potential WeCom, ordinary an automatic SMS
CARE_BY_TIER: dict[str, dict[str, str]] = {
    "vip": {"kind": "task", "channel": "call"},
    "potential": {"kind": "task", "channel": "wecom"},
    "ordinary": {"kind": "message", "channel": "sms"},
}


@dataclass(frozen=True)
class RuleDefinition:
    """A rule as shipped (the database holds the live, editable copy)."""

    rule_id: str
    category: str
    name_zh: str
    name_en: str
    condition: str
    action: str
    priority: str
    sla_hours: int
    template_zh: str
    template_en: str
    tier_actions: dict[str, dict[str, str]] = field(default_factory=dict)
    channel: str | None = None
    product_category: str | None = None
    offer: str | None = None
    sla_working_days: int | None = None
    escalates: bool = False
    marketing: bool = False
    cooldown_days: int = 0
    every_days: int | None = None
    contact_purposes: tuple[str, ...] = ()

    def as_row(self) -> dict[str, Any]:
        tier_actions = dict(self.tier_actions)
        if self.channel and "*" not in tier_actions:
            tier_actions["*"] = {"kind": self.action, "channel": self.channel}
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "condition": self.condition,
            "action": self.action,
            "tier_actions": tier_actions,
            "product_category": self.product_category,
            "offer": self.offer,
            "priority": self.priority,
            "sla_hours": self.sla_hours,
            "sla_working_days": self.sla_working_days,
            "escalates": self.escalates,
            "marketing": self.marketing,
            "cooldown_days": self.cooldown_days,
            "every_days": self.every_days,
            "contact_purposes": list(self.contact_purposes),
            "template_zh": self.template_zh,
            "template_en": self.template_en,
        }


DEFAULT_RULES: tuple[RuleDefinition, ...] = (
    # --- SPEC 5.3 events and alerts ---
    RuleDefinition(
        rule_id="birthday",
        category="event",
        name_zh="生日关怀",
        name_en="Birthday care",
        condition="days_to_birthday <= 7",
        action="task",
        tier_actions=CARE_BY_TIER,
        priority="normal",
        sla_hours=72,
        cooldown_days=30,
        template_zh="尊敬的{name}，提前祝您生日快乐！感谢您一直以来的信任。",
        template_en="Dear {name}, an early happy birthday from your bank, and thank you for your trust.",
    ),
    RuleDefinition(
        rule_id="festival",
        category="event",
        name_zh="节日问候",
        name_en="Festival greeting",
        condition="days_to_festival <= 3",
        action="message",
        tier_actions={
            "vip": {"kind": "task", "channel": "call"},
            "potential": {"kind": "message", "channel": "wechat"},
            "ordinary": {"kind": "message", "channel": "sms"},
        },
        priority="low",
        sla_hours=72,
        cooldown_days=10,
        template_zh="尊敬的{name}，佳节将至，祝您和家人节日快乐、阖家幸福！",
        template_en="Dear {name}, season's greetings to you and your family from your bank.",
    ),
    RuleDefinition(
        rule_id="maturity",
        category="event",
        name_zh="产品到期再投资",
        name_en="Maturity: reinvestment",
        condition="days_to_next_maturity <= 15",
        action="opportunity",
        channel="call",
        product_category="deposit_time",
        offer="到期资金再配置方案",
        priority="high",
        sla_hours=72,
        sla_working_days=3,
        cooldown_days=15,
        template_zh="客户有定期存款或理财将在{days_to_next_maturity}天内到期，请联系客户做再投资规划。",
        template_en="A time deposit or wealth product matures in {days_to_next_maturity} days: "
        "contact the customer about reinvestment.",
    ),
    RuleDefinition(
        rule_id="repayment_due",
        category="event",
        name_zh="还款提醒",
        name_en="Repayment reminder",
        condition="days_to_next_repayment <= 3",
        action="message",
        channel="sms",
        priority="normal",
        sla_hours=24,
        cooldown_days=7,
        template_zh="尊敬的客户，您的贷款或信用卡将于{days_to_next_repayment}天内到期还款，请确保账户余额充足。",
        template_en="Dear customer, a loan or card repayment is due in {days_to_next_repayment} days; "
        "please make sure your account has enough funds.",
    ),
    RuleDefinition(
        rule_id="overdue",
        category="event",
        name_zh="逾期预警",
        name_en="Overdue alert",
        condition="max_days_past_due > 0",
        action="task",
        channel="call",
        priority="high",
        sla_hours=48,
        cooldown_days=7,
        template_zh="客户有贷款或信用卡逾期{max_days_past_due}天，请尽快联系并核实原因。",
        template_en="A loan or card is {max_days_past_due} days past due: contact the customer and find out why.",
    ),
    RuleDefinition(
        rule_id="large_outflow",
        category="event",
        name_zh="大额资金转出核实",
        name_en="Large outflow to a new payee",
        condition="new_payee_outflow_max >= 500000",
        action="task",
        channel="call",
        priority="urgent",
        sla_hours=24,
        escalates=True,
        template_zh="客户今日向新收款方转出¥{new_payee_outflow_max}，请在24小时内联系客户确认是否本人授权。",
        template_en="¥{new_payee_outflow_max} went to a new payee today: within 24 hours, ask the customer "
        "whether they authorised this transfer.",
    ),
    RuleDefinition(
        rule_id="risky_concentration",
        category="event",
        name_zh="高风险集中投资",
        name_en="Concentration in high-risk products",
        condition="last3_investment_count = 3 AND last3_high_risk_count = 3 AND days_since_last_investment <= 30",
        action="task",
        channel="call",
        priority="high",
        sla_hours=72,
        cooldown_days=30,
        template_zh="客户最近三笔投资均为R4/R5产品，请安排风险重新评估并建议分散配置。",
        template_en="The customer's last three investments all went into R4/R5 products: arrange a risk "
        "re-assessment and suggest diversification.",
    ),
    RuleDefinition(
        rule_id="assessment_expiry",
        category="event",
        name_zh="风险评估到期",
        name_en="Risk assessment expired",
        condition="open_investment_accounts > 0 AND (days_since_risk_assessment IS NULL "
        "OR days_since_risk_assessment > 365)",
        action="task",
        channel="call",
        priority="normal",
        sla_hours=120,
        cooldown_days=30,
        template_zh="客户持有投资类产品，但风险评估已过期或缺失，请安排重新评估。",
        template_en="The customer holds investment products but the risk assessment is missing or over a year "
        "old: arrange a new one.",
    ),
    RuleDefinition(
        rule_id="nav_move",
        category="event",
        name_zh="基金止盈止损提醒",
        name_en="Fund take-profit / stop-loss",
        condition="fund_nav_move_max >= 0.15 OR fund_nav_move_min <= -0.10",
        action="task",
        channel="call",
        product_category="fund",
        priority="normal",
        sla_hours=72,
        cooldown_days=30,
        template_zh="客户持有的基金近30天涨跌幅较大，请提醒客户考虑止盈或止损。",
        template_en="A fund the customer holds moved sharply over 30 days: remind them about taking profit "
        "or limiting the loss.",
    ),
    RuleDefinition(
        rule_id="attrition_risk",
        category="event",
        name_zh="流失预警",
        name_en="Attrition risk",
        condition="(aum_avg_30d_90d_ago >= 10000 AND aum_avg_30d <= 0.5 * aum_avg_30d_90d_ago) "
        "OR (previous_tier = 'vip' AND tier <> 'vip')",
        action="task",
        channel="visit",
        priority="high",
        sla_hours=72,
        cooldown_days=30,
        template_zh="客户资产明显下降或已降出VIP，请了解原因并制定挽留方案。",
        template_en="The customer's assets fell sharply or they left the VIP tier: find out why and plan "
        "how to keep them.",
    ),
    RuleDefinition(
        rule_id="dormancy",
        category="event",
        name_zh="睡眠客户激活",
        name_en="Dormant customer reactivation",
        condition="days_since_onboard > 180 AND (recency_days >= 180 OR last_tx_date IS NULL)",
        action="opportunity",
        channel="sms",
        priority="low",
        sla_hours=720,
        marketing=True,
        cooldown_days=90,
        template_zh="尊敬的{name}，好久不见！手机银行新功能与专属礼遇等您体验。",
        template_en="Dear {name}, it has been a while: new mobile-banking features and offers are waiting.",
    ),
    # --- SPEC 5.4 needs mining ---
    RuleDefinition(
        rule_id="need_mortgage",
        category="need",
        name_zh="购房贷款需求",
        name_en="Mortgage need",
        condition="mortgage_rate_views_30d >= 3 AND deposit_balance >= 200000",
        action="opportunity",
        channel="call",
        product_category="loan_mortgage",
        offer="房贷 + 装修贷组合",
        priority="normal",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=30,
        template_zh="客户近期多次查看房贷利率且存款充足，可推荐房贷加装修贷组合方案。",
        template_en="The customer keeps looking at mortgage rates and has the deposits: offer the mortgage "
        "and renovation loan package.",
    ),
    RuleDefinition(
        rule_id="need_education",
        category="need",
        name_zh="子女教育需求",
        name_en="Education need",
        condition="baby_purchase_months_3m = 3",
        action="opportunity",
        channel="wecom",
        product_category="wealth",
        offer="亲子理财 + 教育金规划",
        priority="normal",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=30,
        template_zh="客户连续三个月有母婴消费，可推荐亲子理财产品和教育金规划。",
        template_en="Baby purchases in each of the last three months: offer a parent-child wealth product "
        "and an education-fund plan.",
    ),
    RuleDefinition(
        rule_id="need_salary_plan",
        category="need",
        name_zh="工资理财计划",
        name_en="Salary plan",
        condition="payroll_complete_months_3m = 3 AND open_fund_accounts = 0",
        action="opportunity",
        channel="wecom",
        product_category="fund",
        offer="基金定投 + 工资卡权益",
        priority="normal",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=30,
        template_zh="客户连续三个月代发工资且未持有基金，可推荐基金定投和工资卡权益。",
        template_en="Payroll in each of the last three months and no fund account: offer a fund auto-investment "
        "plan with card benefits.",
    ),
    RuleDefinition(
        rule_id="need_reinvest",
        category="need",
        name_zh="到期资金再投资",
        name_en="Reinvestment of a maturing deposit",
        condition="max_maturing_time_deposit_15d >= 50000",
        action="opportunity",
        channel="call",
        product_category="wealth",
        offer="到期定存再投资",
        priority="high",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=15,
        template_zh="客户有¥{max_maturing_time_deposit_15d}定期存款15天内到期，请提前沟通再投资。",
        template_en="A time deposit of ¥{max_maturing_time_deposit_15d} matures within 15 days: discuss "
        "reinvestment early.",
    ),
    RuleDefinition(
        rule_id="need_retirement",
        category="need",
        name_zh="养老规划需求",
        name_en="Retirement planning",
        condition="age BETWEEN 50 AND 60 AND open_insurance_accounts = 0",
        action="opportunity",
        channel="call",
        product_category="insurance",
        offer="养老规划",
        priority="normal",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=90,
        template_zh="客户年龄{age}岁且无保险产品，可介绍养老规划。",
        template_en="The customer is {age} and holds no insurance: introduce retirement planning.",
    ),
    RuleDefinition(
        rule_id="need_private_corporate",
        category="need",
        name_zh="私人与公司金融联动",
        name_en="Private and corporate banking bundle",
        condition="occupation = 'executive' AND open_loan_business_accounts > 0",
        action="opportunity",
        channel="visit",
        product_category="loan_business",
        offer="私人银行 + 公司金融组合",
        priority="normal",
        sla_hours=72,
        sla_working_days=3,
        marketing=True,
        cooldown_days=90,
        template_zh="客户为企业高管且有经营贷，可推荐私人银行与公司金融组合服务。",
        template_en="An executive with a business loan: offer the private and corporate banking bundle.",
    ),
)

DEFAULT_RULE_IDS: tuple[str, ...] = tuple(r.rule_id for r in DEFAULT_RULES)

# --- SPEC 5.1 contact plans per tier: a contact task (or message) when the last counted contact is
# older than the plan's period; the condition says whom the plan covers ---
CADENCE_RULES: tuple[RuleDefinition, ...] = (
    RuleDefinition(
        rule_id="cadence_vip_review",
        category="cadence",
        name_zh="VIP月度深度联系",
        name_en="VIP monthly deep contact",
        condition="tier = 'vip'",
        action="task",
        tier_actions={"vip": {"kind": "task", "channel": "visit"}},
        priority="normal",
        sla_hours=72,
        every_days=30,
        contact_purposes=("review", "care", "marketing"),
        template_zh="本月请与客户做一次深度联系：携资产报告面谈检视配置，或邀请参加私行沙龙。",
        template_en="This month's deep contact: an asset review with the asset report, or an invitation "
        "to a private-banking salon.",
    ),
    RuleDefinition(
        rule_id="cadence_potential_content",
        category="cadence",
        name_zh="潜力客户双周价值内容",
        name_en="Potential customer: fortnightly value content",
        condition="tier = 'potential'",
        action="task",
        tier_actions={"potential": {"kind": "task", "channel": "wecom"}},
        priority="low",
        sla_hours=72,
        every_days=14,
        contact_purposes=("marketing", "review", "care"),
        marketing=True,
        template_zh="通过企业微信向客户推送一篇市场观点或产品解读。",
        template_en="Send the customer a market view or a product explainer over WeCom.",
    ),
    RuleDefinition(
        rule_id="cadence_potential_survey",
        category="cadence",
        name_zh="潜力客户月度需求调研",
        name_en="Potential customer: monthly needs survey",
        condition="tier = 'potential'",
        action="task",
        tier_actions={"potential": {"kind": "task", "channel": "wecom"}},
        priority="low",
        sla_hours=120,
        every_days=30,
        contact_purposes=("survey",),
        template_zh="了解客户近期计划（如购车、购房、子女教育），记录需求。",
        template_en="Ask about the customer's plans (a car, a home, a child's education) and note the needs.",
    ),
    RuleDefinition(
        rule_id="cadence_ordinary_service",
        category="cadence",
        name_zh="普通客户月度服务提醒",
        name_en="Ordinary customer: monthly service reminder",
        condition="tier = 'ordinary'",
        action="message",
        tier_actions={"ordinary": {"kind": "message", "channel": "sms"}},
        priority="low",
        sla_hours=72,
        every_days=30,
        contact_purposes=("service",),
        template_zh="尊敬的{name}，您的积分与本月权益已更新，可在手机银行查看。",
        template_en="Dear {name}, your points and this month's offers are updated in the mobile bank.",
    ),
    RuleDefinition(
        rule_id="cadence_ordinary_questionnaire",
        category="cadence",
        name_zh="普通客户季度问卷",
        name_en="Ordinary customer: quarterly questionnaire",
        condition="tier = 'ordinary'",
        action="message",
        tier_actions={"ordinary": {"kind": "message", "channel": "wechat"}},
        priority="low",
        sla_hours=120,
        every_days=91,
        contact_purposes=("survey",),
        template_zh="尊敬的{name}，邀请您参与本季度服务满意度问卷。",
        template_en="Dear {name}, please tell us about our service in this quarter's short questionnaire.",
    ),
)

ALL_DEFAULT_RULES: tuple[RuleDefinition, ...] = DEFAULT_RULES + CADENCE_RULES
