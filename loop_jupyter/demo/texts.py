"""The text of every span: user messages, LLM inputs/outputs, tool arguments, results and errors."""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl

from . import phrases as tx
from ._columns import _choose, _fill, _jstr, _nums, _Spans, _strs, _where
from .settings import (
    _AGENT,
    _CLS,
    _CLS_LLM,
    _COMPONENTS,
    _FN,
    _HOSTS,
    _LLM_CALL_NAMES,
    _LLM_ERROR_KINDS,
    _METRICS,
    _NESTED_LLM,
    _ROOT,
    _SQL_TOKENS,
    _STEP_LLM,
    _TABLES,
    _TOOL,
    AGENTS,
    DEPLOY_AGENTS,
    FRUSTRATED_CAPS_RATE,
    FRUSTRATED_PROFANITY_RATE,
    FUNCTIONS,
    INTENTS,
    LLM_ERRORS,
    MODEL_NAMES,
    MODELS,
    NESTED_PARSERS,
    TOOL_ARGS,
    TOOL_ERRORS,
    TOOL_RESULTS,
    TOOLS,
)


def _user_texts(rng: np.random.Generator, tr: dict) -> tuple[list[list[dict]], list[str], list[str]]:
    """Per trace: root input messages, the last user message and the final answer (Python, O(traces))."""
    T = tr["T"]
    en_keys = list(tx.SLOTS_EN)
    zh_keys = list(tx.SLOTS_ZH)
    pick_en = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_EN.items()}
    pick_en2 = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_EN.items()}
    pick_zh = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_ZH.items()}
    r = rng.integers(0, 1 << 30, (T, 8))
    caps = rng.random(T) < FRUSTRATED_CAPS_RATE
    swear = rng.random(T) < FRUSTRATED_PROFANITY_RATE
    two_rounds = rng.random(T) < 0.4
    app_no = rng.integers(100, 9999, T)
    messages: list[list[dict]] = []
    lasts: list[str] = []
    finals: list[str] = []
    slugs = {"build_dashboard": "dashboard", "create_form": "form", "automate_workflow": "workflow"}
    for t in range(T):
        intent = INTENTS[tr["intent"][t]]
        rr = r[t]
        url = f"https://apps.acme.internal/{slugs.get(intent, 'app')}-{app_no[t]}"
        if tr["zh"][t]:
            s = {k: tx.SLOTS_ZH[k][pick_zh[k][t]] for k in zh_keys}
            temps = tx.TEMPLATES_ZH[intent]
            request = temps[rr[0] % len(temps)].format(**s)
            if tr["wants_deploy"][t]:
                request += tx.DEPLOY_ASKS_ZH[rr[1] % len(tx.DEPLOY_ASKS_ZH)]
            final = tx.FINALS_ZH[intent][0].format(**s)
            deployed, failed, unavailable = tx.DEPLOYED_ZH[0], tx.DEPLOY_FAILED_ZH[0], tx.DEPLOY_UNAVAILABLE_ZH[0]
            follow = request
            prior = "已经完成了。"
        else:
            s = {k: tx.SLOTS_EN[k][pick_en[k][t]] for k in en_keys}
            s["field2"] = tx.SLOTS_EN["field"][pick_en2["field"][t]]
            s["trigger_lc"] = s["trigger"]
            temps = tx.TEMPLATES_EN[intent]
            request = tx._OPEN[rr[2] % len(tx._OPEN)] + temps[rr[0] % len(temps)].format(**s)
            if tr["wants_deploy"][t]:
                request += tx.DEPLOY_ASKS_EN[rr[1] % len(tx.DEPLOY_ASKS_EN)].format(**s)
            finals_t = tx.FINALS_EN[intent]
            final = finals_t[rr[3] % len(finals_t)].format(**s)
            deployed = tx.DEPLOYED_EN[rr[4] % len(tx.DEPLOYED_EN)]
            failed = tx.DEPLOY_FAILED_EN[rr[4] % len(tx.DEPLOY_FAILED_EN)]
            unavailable = tx.DEPLOY_UNAVAILABLE_EN[0]
            follow = tx.FOLLOWUPS_EN[rr[5] % len(tx.FOLLOWUPS_EN)].format(**s)
            prior = tx.PRIOR_ANSWERS_EN[rr[6] % len(tx.PRIOR_ANSWERS_EN)].format(**s)
        if tr["wants_deploy"][t]:
            if tr["false_claim"][t] or (tr["deploy_call"][t] and not tr["deploy_err"][t]):
                final += deployed.format(url=url)
            elif tr["deploy_err"][t]:
                final += failed
            else:
                final += unavailable
        msgs = [{"role": "user", "content": request}]
        if tr["frustrated"][t]:
            for round_ in range(2 if two_rounds[t] else 1):
                phrase = tx.FRUSTRATIONS_EN[(rr[7] + round_) % len(tx.FRUSTRATIONS_EN)]
                text = (
                    phrase.format(request=request, **s)
                    if not tr["zh"][t]
                    else phrase.format(request=request, metric="数据", db="数据库", dim="筛选")
                )
                if caps[t]:
                    text = text.upper()
                if swear[t]:
                    text += tx.PROFANITY_EN[rr[5] % len(tx.PROFANITY_EN)]
                msgs += [{"role": "assistant", "content": prior}, {"role": "user", "content": text}]
        elif tr["multi"][t]:
            msgs += [{"role": "assistant", "content": prior}, {"role": "user", "content": follow}]
        messages.append(msgs)
        lasts.append(msgs[-1]["content"])
        finals.append(final)
    return messages, lasts, finals


def _texts(rng: np.random.Generator, tr: dict, sp: _Spans, ex: dict) -> dict[str, pl.Series]:
    """JSON text of input, output, error, metadata, scores and tags for every span, block by block."""
    T = tr["T"]
    messages, lasts, finals = _user_texts(rng, tr)
    last_json = pl.Series([_jstr(x) for x in lasts], dtype=pl.String)
    final_json = pl.Series([_jstr(x) for x in finals], dtype=pl.String)
    users = ("John Smith", *tx.OTHER_USERS)
    agent_names = tuple(AGENTS)

    # Root spans: one orjson call per trace keeps them canonical.
    f_score = np.where(tr["false_claim"], rng.uniform(0.0, 0.25, T), rng.beta(8, 2, T))
    h_score = np.where(tr["frustrated"], rng.uniform(0.05, 0.45, T), rng.beta(7, 2.5, T))
    h_score = np.where(tr["false_claim"], np.minimum(h_score, rng.uniform(0.3, 0.6, T)), h_score)
    tcs = 1.0 - ex["t_err_count"] / np.maximum(ex["t_count"], 1)
    session = rng.integers(0, 1 << 40, T)
    root_in, root_out, root_meta, root_scores, root_tags = [], [], [], [], []
    for t in range(T):
        u = int(tr["user"][t])
        root_in.append(orjson.dumps(messages[t]).decode())
        root_out.append(orjson.dumps({"role": "assistant", "content": finals[t]}).decode())
        root_meta.append(
            orjson.dumps(
                {
                    "user": users[u],
                    "user_id": f"u_{1000 + (u * 7919) % 9000}",
                    "intent": INTENTS[tr["intent"][t]],
                    "app_version": str(tr["version"][t]),
                    "environment": "staging" if tr["staging"][t] else "production",
                    "session_id": f"sess_{session[t]:010x}",
                    "conversation_turns": len(messages[t]) // 2 + 1,
                    "channel": "web",
                }
            ).decode()
        )
        root_scores.append(
            orjson.dumps(
                {
                    "Factuality": round(float(f_score[t]), 2),
                    "helpfulness": round(float(h_score[t]), 2),
                    "tool_call_success": round(float(tcs[t]), 2),
                }
            ).decode()
        )
        tags = ["staging" if tr["staging"][t] else "production"]
        if tr["beta"][t]:
            tags.append("beta")
        root_tags.append(tags)

    model_meta = [
        f'{{"model":"{m}","provider":"{MODELS[m][0]}"' for m in MODEL_NAMES
    ]  # closed below with the per-call fields
    out: dict[str, list[pl.Series]] = {
        k: [] for k in ("input", "output", "error", "metadata", "scores", "name", "type")
    }
    null = pl.lit(None, dtype=pl.String)

    def emit(n: int, **cols: pl.Series | None) -> None:
        for key in out:
            value = cols.get(key)
            out[key].append(value if value is not None else pl.repeat(None, n, dtype=pl.String, eager=True))

    def cat(*parts: pl.Series | str) -> pl.Series:
        n = max(len(p) for p in parts if isinstance(p, pl.Series))
        frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts) if isinstance(p, pl.Series)})
        exprs = [pl.col(f"p{i}") if isinstance(p, pl.Series) else pl.lit(p) for i, p in enumerate(parts)]
        return frame.select(pl.concat_str(exprs).alias("s")).to_series() if n else pl.Series([], dtype=pl.String)

    def const(value: str, n: int) -> pl.Series:
        return pl.repeat(value, n, dtype=pl.String, eager=True)

    def llm_meta(b: dict, temperature: str) -> pl.Series:
        return cat(
            _strs(model_meta, b["model"]), f',"temperature":{temperature},"attempt":', _nums(b["attempt"] + 1), "}"
        )

    def llm_name(b: dict) -> pl.Series:
        return _strs([_LLM_CALL_NAMES[MODELS[m][0]] for m in MODEL_NAMES], b["model"])

    def llm_error(b: dict) -> pl.Series:
        n = len(b["trace"])
        e = b["err"]
        text = _fill(
            [_jstr(LLM_ERRORS[k]) for k in _LLM_ERROR_KINDS] + [""],
            np.where(e >= 0, e, len(_LLM_ERROR_KINDS)),
            [
                pl.Series(np.where(e == 2, sp_overflow(n), rng.integers(40, 400, n))).cast(pl.String),
                _strs([f"{i:02x}" for i in range(256)], rng.integers(0, 256, n))
                + _nums(rng.integers(10**11, 10**12, n)),
                _strs(MODEL_NAMES, b["model"]),
            ],
        )
        return (
            pl.DataFrame({"s": text}).select(pl.when(pl.col("s") == "").then(null).otherwise(pl.col("s"))).to_series()
        )

    def sp_overflow(n: int) -> np.ndarray:
        return rng.integers(200_001, 260_000, n)

    tool_values_cache: dict[str, list[pl.Series]] = {}

    def tool_values(n: int, trace: np.ndarray, key: str) -> list[pl.Series]:
        if key not in tool_values_cache:
            tool_values_cache[key] = [
                _nums(rng.integers(1, 40, n)),
                _nums(rng.integers(1, 500, n)),
                _nums(rng.integers(100_000, 999_999, n)),
                _strs(_SQL_TOKENS, rng.integers(0, len(_SQL_TOKENS), n)),
                _strs(_HOSTS, rng.integers(0, len(_HOSTS), n)),
                _strs(_COMPONENTS, rng.integers(0, len(_COMPONENTS), n)),
                _strs(_TABLES, rng.integers(0, len(_TABLES), n)),
                _strs(_METRICS, rng.integers(0, len(_METRICS), n)),
            ]
        return tool_values_cache[key]

    # Arguments per step (shared by the LLM's tool call and the tool span's input).
    S = len(ex["s_tool"])
    s_tool = ex["s_tool"]
    step_vals = tool_values(S, ex["s_trace"], "steps")
    step_args = _fill([TOOL_ARGS[t] for t in TOOLS] + ["null"], np.where(s_tool >= 0, s_tool, len(TOOLS)), step_vals)

    for b in sp.blocks:
        n = len(b["trace"])
        kind = int(b["kind"][0]) if n else -1
        trace = b["trace"]
        if n == 0:
            emit(0)
            continue
        if kind == _ROOT:
            emit(
                n,
                input=pl.Series(root_in, dtype=pl.String),
                output=pl.Series(root_out, dtype=pl.String),
                metadata=pl.Series(root_meta, dtype=pl.String),
                scores=pl.Series(root_scores, dtype=pl.String),
                name=const("turn", n),
                type=const("task", n),
            )
        elif kind == _CLS:
            conf = _strs([_jstr(v / 100) for v in range(100)], rng.integers(62, 100, n))
            emit(
                n,
                input=cat('{"text":', last_json.gather(trace), "}"),
                output=cat('{"intent":"', _strs(INTENTS, tr["intent"][trace]), '","confidence":', conf, "}"),
                metadata=const('{"labels":' + orjson.dumps(list(INTENTS)).decode() + ',"threshold":0.6}', n),
                name=const("intent_classifier", n),
                type=const("classifier", n),
            )
        elif kind == _CLS_LLM:
            ok = b["err"] < 0
            success = cat('{"role":"assistant","content":"', _strs(INTENTS, tr["intent"][trace]), '"}')
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _jstr(tx.SYSTEM_PROMPTS["classifier"]),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}]",
                ),
                output=_where(ok, success),
                error=llm_error(b),
                metadata=llm_meta(b, "0"),
                name=llm_name(b),
                type=const("llm", n),
            )
        elif kind == _AGENT:
            a = b["agent"]
            worker = ~np.isin(a, [agent_names.index("planner"), agent_names.index("reviewer")])
            plans = _strs([_jstr(tx.PLANS[i]) for i in INTENTS], tr["intent"][trace])
            reviews = _strs([_jstr(x) for x in tx.REVIEWS], rng.integers(0, len(tx.REVIEWS), n))
            result = _choose(
                worker, final_json.gather(trace), _choose(a == agent_names.index("planner"), plans, reviews)
            )
            tool_lists = []
            for name in agent_names:
                base = list(AGENTS[name][3])
                tool_lists += [orjson.dumps([*base, "deploy_app"] if name in DEPLOY_AGENTS else base).decode()]
                tool_lists += [orjson.dumps(base).decode()]
            missing = tr["missing"][trace].astype(np.int64)
            emit(
                n,
                input=cat(
                    '{"request":', last_json.gather(trace), ',"intent":"', _strs(INTENTS, tr["intent"][trace]), '"}'
                ),
                output=cat('{"status":"completed","result":', result, "}"),
                metadata=cat(
                    '{"agent":"',
                    _strs(agent_names, a),
                    '","app_version":"',
                    pl.Series(tr["version"][trace].astype(str)),
                    '","tools":',
                    _strs(tool_lists, a * 2 + missing),
                    "}",
                ),
                name=_strs(agent_names, a),
                type=_strs([AGENTS[x][0] for x in agent_names], a),
            )
        elif kind == _STEP_LLM:
            step = b["step"]
            a = b["agent"]
            ok = b["err"] < 0
            prev = ex["s_prev"][step]
            prev_msg = _strs(
                [""] + [f',{{"role":"tool","name":"{t}","content":"(result of {t})"}}' for t in TOOLS], prev + 1
            )
            tool_idx = s_tool[step]
            # Thought i of tool t sits at t * 3 + i in a flat table (up to three per tool).
            thoughts = [_jstr(tx.THOUGHTS[t][i % len(tx.THOUGHTS[t])]) for t in TOOLS for i in range(3)]
            thought_idx = np.where(tool_idx >= 0, tool_idx * 3 + rng.integers(0, 3, n), len(thoughts))
            calls = cat(
                '{"role":"assistant","content":',
                _strs([*thoughts, ""], thought_idx),
                ',"tool_calls":[{"name":"',
                _strs([*TOOLS, ""], np.where(tool_idx >= 0, tool_idx, len(TOOLS))),
                '","arguments":',
                step_args.gather(step),
                "}]}",
            )
            worker = ~np.isin(a, [agent_names.index("planner"), agent_names.index("reviewer")])
            plans = _strs([_jstr(tx.PLANS[i]) for i in INTENTS], tr["intent"][trace])
            reviews = _strs([_jstr(x) for x in tx.REVIEWS], rng.integers(0, len(tx.REVIEWS), n))
            answer = _choose(
                worker, final_json.gather(trace), _choose(a == agent_names.index("planner"), plans, reviews)
            )
            final_msg = cat('{"role":"assistant","content":', answer, "}")
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _strs([_jstr(tx.SYSTEM_PROMPTS[x]) for x in agent_names], a),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}",
                    prev_msg,
                    "]",
                ),
                output=_where(ok, _choose(tool_idx >= 0, calls, final_msg)),
                error=llm_error(b),
                metadata=llm_meta(b, "0.2"),
                name=llm_name(b),
                type=const("llm", n),
            )
        elif kind == _TOOL:
            t = b["tool"]
            failed = b["err"] >= 0
            vals = tool_values(n, trace, "tools")
            result = _fill([TOOL_RESULTS[x] for x in TOOLS], t, vals)
            errors = _fill([_jstr(TOOL_ERRORS.get(x, "")) for x in TOOLS], t, vals)
            emit(
                n,
                input=step_args.gather(b["step"]),
                output=_where(~failed, result),
                error=_where(failed, errors),
                name=_strs(TOOLS, t),
                type=const("tool", n),
            )
        elif kind == _NESTED_LLM:
            nested_names = tuple(NESTED_PARSERS)
            c = b["nested"]
            ok = b["err"] < 0
            flat = [(k, i) for k, name in enumerate(nested_names) for i in range(len(tx.NESTED_OUTPUTS[name]))]
            offsets = np.cumsum([0] + [len(tx.NESTED_OUTPUTS[x]) for x in nested_names])
            counts = np.array([len(tx.NESTED_OUTPUTS[x]) for x in nested_names])
            which = offsets[c] + rng.integers(0, 1 << 30, n) % counts[c]
            outputs = [_jstr(tx.NESTED_OUTPUTS[nested_names[k]][i]) for k, i in flat]
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _strs([_jstr(tx.SYSTEM_PROMPTS[x]) for x in nested_names], c),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}]",
                ),
                output=_where(ok, cat('{"role":"assistant","content":', _strs(outputs, which), "}")),
                error=llm_error(b),
                metadata=llm_meta(b, "0"),
                name=_strs(nested_names, c),
                type=const("llm", n),
            )
        elif kind == _FN:
            f = b["fn"]
            names = tuple(FUNCTIONS)
            num = [_nums(rng.integers(1, 5000, n))]
            emit(
                n,
                input=_fill([FUNCTIONS[x][2] for x in names], f, num),
                output=_fill([FUNCTIONS[x][3] for x in names], f, num),
                name=_strs(names, f),
                type=const("function", n),
            )
    texts = {k: pl.concat(v) for k, v in out.items()}
    texts["tags_root"] = pl.Series(root_tags, dtype=pl.List(pl.String))
    return texts
