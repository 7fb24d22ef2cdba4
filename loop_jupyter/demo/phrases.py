"""Phrase tables for :mod:`loop_jupyter.demo`: what users of an app-building assistant type, and
what its agents and tools answer. Kept apart so the generator stays readable.

Templates use ``{slot}`` names filled from :data:`SLOTS_EN` / :data:`SLOTS_ZH`; the many
templates × slots combinations give embedding clustering real variety within each intent.
"""

from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "build_dashboard",
    "write_sql",
    "create_form",
    "debug_error",
    "connect_datasource",
    "automate_workflow",
)

#: 50 users besides "John Smith" (who is added first by the generator).
OTHER_USERS: tuple[str, ...] = (
    "Maria Garcia",
    "Wei Zhang",
    "Priya Patel",
    "James Wilson",
    "Fatima Al-Sayed",
    "Lukas Becker",
    "Aiko Tanaka",
    "Carlos Mendoza",
    "Olivia Brown",
    "Noah Johnson",
    "Emma Davis",
    "Liam Miller",
    "Sofia Rossi",
    "Mateo Fernandez",
    "Chloe Martin",
    "Ethan Moore",
    "Ava Taylor",
    "Mason Anderson",
    "Isabella Thomas",
    "Lucas Jackson",
    "Mia White",
    "Logan Harris",
    "Amelia Clark",
    "Elijah Lewis",
    "Harper Robinson",
    "Oliver Walker",
    "Evelyn Young",
    "Benjamin King",
    "Abigail Wright",
    "Henry Scott",
    "Li Na",
    "Chen Jie",
    "Ravi Kumar",
    "Ananya Singh",
    "Kwame Mensah",
    "Zanele Dlamini",
    "Jonas Nilsson",
    "Ingrid Larsen",
    "Pierre Dubois",
    "Camille Laurent",
    "Yusuf Demir",
    "Elif Kaya",
    "Diego Silva",
    "Ana Souza",
    "Tomasz Nowak",
    "Katarzyna Wojcik",
    "Hiroshi Sato",
    "Yuki Suzuki",
    "Grace Kim",
    "Daniel Park",
)

SLOTS_EN: dict[str, tuple[str, ...]] = {
    "metric": (
        "revenue",
        "weekly active users",
        "churn rate",
        "open support tickets",
        "monthly recurring revenue",
        "signups",
        "average order value",
        "inventory levels",
        "NPS",
        "conversion rate",
        "late shipments",
        "refund volume",
        "pipeline value",
        "ticket resolution time",
        "daily orders",
        "gross margin",
    ),
    "dim": (
        "region",
        "plan tier",
        "sales rep",
        "week",
        "product line",
        "country",
        "acquisition channel",
        "customer segment",
        "warehouse",
        "month",
        "team",
        "SKU",
    ),
    "period": ("30 days", "quarter", "year", "7 days", "90 days", "two weeks", "fiscal year"),
    "chart": ("line chart", "bar chart", "table", "pie chart", "heatmap", "KPI tiles", "stacked area chart"),
    "team": ("sales", "support", "finance", "ops", "marketing", "customer success", "logistics", "HR"),
    "table": ("orders", "customers", "invoices", "tickets", "subscriptions", "shipments", "users", "events"),
    "db": ("Postgres", "Snowflake", "BigQuery", "MySQL", "our Redshift warehouse", "the prod replica"),
    "source": ("Salesforce", "HubSpot", "Stripe", "Zendesk", "a Google Sheet", "our REST API", "Jira", "Shopify"),
    "field": ("email", "start date", "cost center", "manager", "priority", "budget", "department", "due date"),
    "form": ("expense report", "PTO request", "bug report", "vendor onboarding", "customer feedback", "access request"),
    "error": (
        "a 500 on the orders page",
        "'undefined is not a function' in the table widget",
        "a blank chart",
        "a timeout when the query runs",
        "'column does not exist'",
        "the submit button doing nothing",
        "duplicate rows in the grid",
        "a CORS error",
    ),
    "trigger": (
        "a new Stripe payment",
        "a ticket marked urgent",
        "every Monday at 9am",
        "a form submission",
        "a new row in the orders table",
        "a failed deploy",
    ),
    "action": (
        "post to Slack",
        "email the account owner",
        "create a Jira ticket",
        "update the CRM",
        "send a daily digest",
        "page the on-call engineer",
    ),
    "freq": ("hourly", "daily", "every 15 minutes", "in real time", "weekly"),
}

_OPEN = ("", "Hey, ", "Hi! ", "Quick one: ", "ok so ", "Hello, ", "Morning! ", "")

TEMPLATES_EN: dict[str, tuple[str, ...]] = {
    "build_dashboard": (
        "build a dashboard that shows {metric} by {dim} for the last {period}",
        "can you make me a {chart} of {metric} broken down by {dim}?",
        "I want a dashboard tracking {metric} across {dim}, refreshed {freq}",
        "create an internal dashboard for the {team} team with {metric} and a {chart} by {dim}",
        "please put together a {metric} dashboard from the {table} table, grouped by {dim}",
        "need a quick view of {metric} per {dim} over the past {period}, as a {chart}",
        "the {team} team wants to see {metric} vs last {period} by {dim}. can you build that?",
        "could you build a KPI page showing {metric}, filterable by {dim}",
        "make a dashboard off {db} showing {metric} by {dim}",
        "I need a {chart} for {metric} — split by {dim}, last {period}",
        "build me something to monitor {metric} {freq} for {team}",
        "set up a dashboard with {metric} trends and a drilldown by {dim}",
    ),
    "write_sql": (
        "write a SQL query that returns {metric} by {dim} for the last {period}",
        "how do I query {metric} per {dim} from the {table} table?",
        "can you write SQL to find the top 10 {dim}s by {metric}?",
        "I need a query joining {table} and customers to get {metric} by {dim}",
        "give me the SQL for {metric} over the past {period} in {db}",
        "write a query to find duplicate {table} rows by {field}",
        "what's the SQL to compute {metric} week over week?",
        "please write a {db} query for {metric} grouped by {dim} and month",
        "help me fix this query, it should return {metric} per {dim} but returns nothing",
        "query the {table} table for anything missing a {field}",
    ),
    "create_form": (
        "create a form for {form}s with fields for {field} and {field2}",
        "build an {form} form that writes to the {table} table",
        "I need a {form} form with validation on {field}",
        "make a simple intake form for the {team} team: name, {field}, {field2}",
        "can you build a {form} form and send submissions to {source}?",
        "please create a multi-step {form} form with an approval step for the {team} lead",
        "set up a form where people can submit a {form}, {field} required",
        "build a {form} request form with a dropdown for {dim}",
    ),
    "debug_error": (
        "my app shows {error}, can you help?",
        "why am I getting {error} after the last change?",
        "the {team} dashboard is broken — {error}",
        "debug this: {error} whenever I filter by {dim}",
        "I see {error} on the {form} form. what's wrong?",
        "something broke overnight: {error}. please fix",
        "users report {error} in the {metric} view",
        "getting {error} when connecting to {db}",
    ),
    "connect_datasource": (
        "connect my {db} database so I can build on the {table} table",
        "how do I hook up {source} as a data source?",
        "please add {source} as a datasource and sync {table}",
        "I want to pull data from {source} into the app, refreshed {freq}",
        "set up a connection to {db} with read-only credentials",
        "can you connect {source} and show me what tables are available?",
        "link our {db} so the {team} team can query {table}",
    ),
    "automate_workflow": (
        "when {trigger}, {action}",
        "automate this: on {trigger} we need to {action}",
        "build a workflow that will {action} whenever {trigger_lc}",
        "can you set up an automation to {action} {freq}?",
        "I want to {action} every time {trigger_lc}",
        "create a workflow for the {team} team: {trigger} -> {action}",
        "please automate the {form} approvals so we {action} on {trigger}",
    ),
}

DEPLOY_ASKS_EN: tuple[str, ...] = (
    " and deploy it",
    ", then deploy it to production",
    ". Deploy when done please",
    " and publish it so the {team} team can use it",
    ". Ship it to prod once it works",
    " and deploy the app for me",
)

#: Neutral follow-ups for multi-turn conversations that are not frustrated.
FOLLOWUPS_EN: tuple[str, ...] = (
    "thanks! can you also add a filter by {dim}?",
    "looks good. now make it a {chart}",
    "great, could you add {metric} as well?",
    "nice. can the {team} team get edit access?",
    "perfect, one more thing: sort by {metric} descending",
    "ok that works. can you add a date picker?",
)

#: Previous assistant turns quoted in multi-turn root inputs.
PRIOR_ANSWERS_EN: tuple[str, ...] = (
    "Done! Your app is ready.",
    "I've built it and deployed it for you.",
    "All set — the {chart} now shows {metric} by {dim}.",
    "Here is the query; it returns {metric} by {dim}.",
    "Fixed! The error should be gone now.",
)

#: What frustrated users write; every frustrated trace has at least one of these.
FRUSTRATIONS_EN: tuple[str, ...] = (
    "this is wrong, the {metric} numbers don't match what I see in {db}",
    "you said it was done but the app isn't there",
    "you said it was deployed. it is NOT deployed",
    "I already asked for this. {request}",
    "again: {request}",
    "no, that's not what I asked for",
    "this is wrong again. the {dim} filter does nothing",
    "why does this still not work??",
    "this is the third time I'm asking",
)
PROFANITY_EN: tuple[str, ...] = (" wtf", " damn it", " this is bullshit", " ffs", " what the hell")

SLOTS_ZH: dict[str, tuple[str, ...]] = {
    "metric": ("收入", "周活跃用户", "流失率", "未处理工单", "订单量", "转化率", "退款金额", "库存"),
    "dim": ("地区", "产品线", "销售代表", "渠道", "月份", "客户类型"),
    "period": ("30天", "一个季度", "一年", "7天"),
    "table": ("订单", "客户", "发票", "工单"),
    "source": ("Salesforce", "飞书表格", "Stripe", "钉钉"),
    "form": ("报销", "请假申请", "供应商入驻", "客户反馈"),
    "action": ("发送到企业微信群", "给负责人发邮件", "创建一个工单"),
    "trigger": ("收到新订单时", "工单被标记为紧急时", "每周一早上九点"),
}

TEMPLATES_ZH: dict[str, tuple[str, ...]] = {
    "build_dashboard": (
        "帮我做一个按{dim}显示{metric}的仪表盘，时间范围是最近{period}",
        "能不能做一个{metric}的看板，按{dim}分组？",
        "我需要一个仪表盘来跟踪{metric}",
    ),
    "write_sql": (
        "写一个SQL查询，按{dim}统计最近{period}的{metric}",
        "怎么从{table}表里查询{metric}？",
        "帮我写个SQL，找出{metric}最高的前十个{dim}",
    ),
    "create_form": (
        "帮我创建一个{form}表单",
        "做一个{form}的表单，提交后写入{table}表",
    ),
    "debug_error": (
        "我的应用报错了，页面一直是空白的，帮我看看",
        "{metric}图表加载不出来，是怎么回事？",
        "按{dim}筛选的时候报错，请帮忙修复",
    ),
    "connect_datasource": (
        "帮我连接{source}作为数据源",
        "怎么把{source}的数据接进来？",
    ),
    "automate_workflow": (
        "{trigger}，自动{action}",
        "帮我做一个自动化流程：{trigger}{action}",
    ),
}
DEPLOY_ASKS_ZH: tuple[str, ...] = ("，然后部署上线", "，做好后直接发布", "，并部署到生产环境")

#: Final answers. ``{url}`` is the app's address; deploy sentences are appended when relevant.
FINALS_EN: dict[str, tuple[str, ...]] = {
    "build_dashboard": (
        "I've built the dashboard: {metric} by {dim} with a {chart}. You can preview it in the editor.",
        "Your dashboard is ready. It shows {metric} broken down by {dim} and refreshes {freq}.",
        "Done — the {chart} of {metric} by {dim} is in place, with a date filter.",
    ),
    "write_sql": (
        "Here's the query. It returns {metric} grouped by {dim}; I ran it and got 12 rows back.",
        "This SQL computes {metric} per {dim}. I tested it against {db}.",
        "The query below joins {table} with customers and aggregates {metric} by {dim}.",
    ),
    "create_form": (
        "I've created the {form} form with {field} and {field2} fields and required-field validation.",
        "The {form} form is ready; submissions are written to the {table} table.",
    ),
    "debug_error": (
        "The error came from a null {field} in the {table} table. I added a guard and the page loads now.",
        "Found it: the query referenced a renamed column. I updated it and the view renders again.",
        "The widget was passing an undefined prop. Fixed and verified in preview.",
    ),
    "connect_datasource": (
        "{source} is connected. I found 14 tables, including {table}.",
        "Connected to {db} with read-only credentials; {table} is available to query.",
    ),
    "automate_workflow": (
        "The workflow is set up: when {trigger_lc}, it will {action}.",
        "I've created the automation to {action}. It runs on {trigger_lc}.",
    ),
}
DEPLOYED_EN: tuple[str, ...] = (
    " I've deployed your app to {url}.",
    " I've deployed it — it's live at {url}.",
    " All done, I've deployed the app: {url}",
)
DEPLOY_FAILED_EN: tuple[str, ...] = (
    " I couldn't deploy it: you don't have the app:deploy permission on this workspace. Ask an admin to grant it.",
    " Deployment failed with a permission error; an admin needs to grant you the deploy role.",
)
DEPLOY_UNAVAILABLE_EN: tuple[str, ...] = (" I can't deploy from here — click Publish in the editor to ship it.",)
FINALS_ZH: dict[str, tuple[str, ...]] = {
    "build_dashboard": ("仪表盘已经做好了，按{dim}显示{metric}。",),
    "write_sql": ("这是查询语句，按{dim}统计{metric}，已经测试通过。",),
    "create_form": ("{form}表单已经创建好了。",),
    "debug_error": ("问题已修复：是一个空字段导致页面报错。",),
    "connect_datasource": ("{source}已经连接成功。",),
    "automate_workflow": ("自动化流程已经设置好了：{trigger}{action}。",),
}
DEPLOYED_ZH: tuple[str, ...] = ("我已经部署了您的应用：{url}",)
DEPLOY_FAILED_ZH: tuple[str, ...] = ("部署失败：您没有该工作区的部署权限。",)
DEPLOY_UNAVAILABLE_ZH: tuple[str, ...] = ("我无法直接部署，请在编辑器中点击发布。",)

PLANS: dict[str, str] = {
    "build_dashboard": "1. Inspect the schema. 2. Write the aggregation query. 3. Create chart components. 4. Deploy if asked.",
    "write_sql": "1. List tables. 2. Draft the SQL. 3. Run it and check the result.",
    "create_form": "1. Read the target table. 2. Create the form component with validation. 3. Wire submissions. 4. Deploy if asked.",
    "debug_error": "1. Reproduce. 2. Read the logs and docs. 3. Patch the query or component.",
    "connect_datasource": "1. Test the connection. 2. List tables. 3. Save the datasource.",
    "automate_workflow": "1. Define the trigger. 2. Add the actions. 3. Validate. 4. Deploy if asked.",
}

SYSTEM_PROMPTS: dict[str, str] = {
    "classifier": "Classify the user's request into exactly one of: build_dashboard, write_sql, create_form, "
    "debug_error, connect_datasource, automate_workflow. Answer with the label only.",
    "planner": "You are the planner of an internal-tools builder. Break the user's request into steps for the "
    "worker agents. Be brief.",
    "app_builder": "You build internal apps (dashboards, forms) from components and SQL. Use the tools you are "
    "given. Never claim an action you did not perform.",
    "sql_agent": "You write correct, efficient SQL for the user's connected datasources. Run queries to check them.",
    "debugger": "You diagnose errors in the user's internal apps using logs, docs and queries, then fix them.",
    "integration_agent": "You connect datasources (databases, SaaS APIs) and verify that they work.",
    "workflow_agent": "You build automations: triggers, actions, schedules. Validate before enabling.",
    "reviewer": "Review the worker's result against the user's request. Reply APPROVED or list problems.",
    "generate_component_code": "Write a React component for the app builder. Output code only.",
    "draft_sql": "Translate the question into SQL for the given schema. Output SQL only.",
    "plan_workflow_steps": "Turn the automation description into workflow steps as JSON.",
}

REVIEWS: tuple[str, ...] = (
    "APPROVED",
    "APPROVED — matches the request.",
    "Minor: add a loading state. Otherwise APPROVED.",
)

THOUGHTS: dict[str, tuple[str, ...]] = {
    "list_tables": ("Let me look at the available tables first.", "I'll check the schema."),
    "query_database": (
        "I'll run a query to check the data.",
        "Running the aggregation now.",
        "Let me verify the numbers.",
    ),
    "create_component": ("Now I'll create the chart component.", "Creating the UI component."),
    "deploy_app": ("Everything works; deploying the app.", "Deploying to production now."),
    "fetch_url": ("Fetching the API response to see its shape.", "Let me call the endpoint."),
    "search_docs": ("Searching the docs for this.", "Let me check the documentation."),
    "generate_sql": ("I'll draft the SQL.", "Generating the query."),
    "create_workflow": ("Creating the workflow definition.", "Setting up the trigger and actions."),
    "test_connection": ("Testing the connection first.", "Checking the credentials work."),
}

NESTED_OUTPUTS: dict[str, tuple[str, ...]] = {
    "generate_component_code": (
        'export default function Chart({ data }) {\n  return <LineChart data={data} x="week" y="value" />;\n}',
        'export default function Kpi({ value }) {\n  return <Tile label="Total" value={value} />;\n}',
        "export default function Grid({ rows }) {\n  return <Table rows={rows} pageSize={50} />;\n}",
    ),
    "draft_sql": (
        "SELECT region, SUM(amount) AS revenue\nFROM orders\nWHERE created_at > now() - interval '30 days'\nGROUP BY 1",
        "SELECT plan, COUNT(DISTINCT user_id)\nFROM events\nGROUP BY plan\nORDER BY 2 DESC\nLIMIT 10",
    ),
    "plan_workflow_steps": (
        '{"trigger": "stripe.payment_succeeded", "steps": ["lookup_customer", "post_slack"]}',
        '{"trigger": "cron(0 9 * * 1)", "steps": ["query_tickets", "send_digest"]}',
    ),
}
