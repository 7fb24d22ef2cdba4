"""The span tree of every trace (level by level) and its timing."""

from __future__ import annotations

import numpy as np

from ._columns import _lognormal, _Spans
from .settings import (
    _AGENT,
    _CLS,
    _CLS_LLM,
    _FN,
    _NESTED_LLM,
    _ROOT,
    _STEP_LLM,
    _TOOL,
    AGENTS,
    DEPLOY_AGENTS,
    FUNCTIONS,
    INTENT_AGENTS,
    INTENTS,
    LLM_ERROR_RATES,
    MAX_DEPTH,
    MAX_RETRIES,
    MODEL_NAMES,
    MODELS,
    NESTED_MODEL,
    NESTED_PARSERS,
    SLOW_TRACE_SECONDS,
    TOOL_CHILDREN,
    TOOL_ERROR_RATES,
    TOOL_LATENCY,
    TOOLS,
)


def _llm_attempts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand n logical LLM calls into attempts: (call index, attempt number, error kind or -1)."""
    p_err = sum(LLM_ERROR_RATES.values())
    fails = (rng.random((n, MAX_RETRIES)) < p_err).cumprod(axis=1).sum(axis=1)
    reps = fails + 1
    call = np.repeat(np.arange(n), reps)
    attempt = np.arange(len(call)) - np.repeat(np.cumsum(reps) - reps, reps)
    rel = np.array(list(LLM_ERROR_RATES.values())) / p_err
    kind = rng.choice(len(rel), size=len(call), p=rel)
    err = np.where(attempt < fails[call], kind, -1)
    return call, attempt, err


def _structure(rng: np.random.Generator, tr: dict) -> tuple[_Spans, dict]:
    """Build every span's place in its tree (parent, order among siblings) and its kind."""
    T = tr["T"]
    sp = _Spans()
    traces = np.arange(T)
    model = tr["model"]
    roots = sp.add(trace=traces, parent=np.full(T, -1), kind=np.full(T, _ROOT), order=np.zeros(T), depth=np.zeros(T))
    cls = sp.add(trace=traces, parent=roots, kind=np.full(T, _CLS), order=np.zeros(T), depth=np.ones(T))
    call, attempt, err = _llm_attempts(rng, T)
    sp.add(
        trace=call,
        parent=cls[call],
        kind=np.full(len(call), _CLS_LLM),
        order=attempt,
        depth=np.full(len(call), 2),
        attempt=attempt,
        err=err,
        model=tr["cls_model"][call],
        final=np.ones(len(call)),
    )

    # Agents: the intent's agents, then maybe a reviewer.
    agent_names = tuple(AGENTS)
    table = np.array(
        [[agent_names.index(a) for a in INTENT_AGENTS[i]] + [-1] * (2 - len(INTENT_AGENTS[i])) for i in INTENTS]
    )
    base_n = (table[tr["intent"]] >= 0).sum(axis=1)
    n_agents = base_n + tr["reviewer"]
    a_trace = np.repeat(traces, n_agents)
    a_pos = np.arange(len(a_trace)) - np.repeat(np.cumsum(n_agents) - n_agents, n_agents)
    a_kind = np.where(
        a_pos < base_n[a_trace], table[tr["intent"][a_trace], np.minimum(a_pos, 1)], agent_names.index("reviewer")
    )
    A = len(a_trace)
    agents = sp.add(
        trace=a_trace, parent=roots[a_trace], kind=np.full(A, _AGENT), order=1 + a_pos, depth=np.ones(A), agent=a_kind
    )
    is_deploy_agent = np.isin(a_kind, [agent_names.index(a) for a in DEPLOY_AGENTS])
    deploying = is_deploy_agent & tr["deploy_call"][a_trace]

    # Steps: each is an LLM call, and a tool call unless it is the agent's last step.
    lo = np.array([AGENTS[a][1] for a in agent_names])[a_kind]
    hi = np.array([AGENTS[a][2] for a in agent_names])[a_kind]
    n_steps = rng.integers(lo, hi + 1)
    n_steps = np.where(deploying, np.maximum(n_steps, 3), n_steps)
    s_agent = np.repeat(np.arange(A), n_steps)
    s_num = np.arange(len(s_agent)) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    s_last = s_num == n_steps[s_agent] - 1
    S = len(s_agent)
    tool_table = np.full((len(agent_names), 4), -1)
    for k, a in enumerate(agent_names):
        for j, tool in enumerate(AGENTS[a][3]):
            tool_table[k, j] = TOOLS.index(tool)
    n_tools = (tool_table >= 0).sum(axis=1)
    s_kind = a_kind[s_agent]
    s_tool = tool_table[s_kind, rng.integers(0, 1 << 30, S) % n_tools[s_kind]]
    s_tool = np.where((s_num == n_steps[s_agent] - 2) & deploying[s_agent], TOOLS.index("deploy_app"), s_tool)
    s_tool = np.where(s_last, -1, s_tool)
    s_trace = a_trace[s_agent]
    # Previous step's tool (for the tool message in the next LLM input).
    s_prev = np.where(s_num > 0, np.roll(s_tool, 1), -1)

    call, attempt, err = _llm_attempts(rng, S)
    sp.add(
        trace=s_trace[call],
        parent=agents[s_agent[call]],
        kind=np.full(len(call), _STEP_LLM),
        order=s_num[call] * 8 + attempt,
        depth=np.full(len(call), 2),
        attempt=attempt,
        err=err,
        model=model[s_trace[call]],
        step=call,
        agent=a_kind[s_agent[call]],
        final=s_last[call],
    )
    has_tool = np.flatnonzero(~s_last)
    t_tool = s_tool[has_tool]
    t_trace = s_trace[has_tool]
    rates = np.array([TOOL_ERROR_RATES.get(t, 0.0) for t in TOOLS])
    t_err = rng.random(len(has_tool)) < rates[t_tool]
    t_err = np.where(t_tool == TOOLS.index("deploy_app"), tr["deploy_err"][t_trace], t_err)
    Tn = len(has_tool)
    tools = sp.add(
        trace=t_trace,
        parent=agents[s_agent[has_tool]],
        kind=np.full(Tn, _TOOL),
        order=s_num[has_tool] * 8 + 5,
        depth=np.full(Tn, 2),
        tool=t_tool,
        err=np.where(t_err, 0, -1),
        step=has_tool,
    )

    # Tool internals: nested LLM calls (each with a parser function) and functions.
    fn_names = tuple(FUNCTIONS)
    nested_names = tuple(NESTED_PARSERS)
    slots = np.full((len(TOOLS), 2, 2), -1)  # [tool, slot] -> (name code, is_llm)
    probs = np.zeros((len(TOOLS), 2))
    for k, tool in enumerate(TOOLS):
        for j, (name, kind, p) in enumerate(TOOL_CHILDREN.get(tool, ())):
            is_llm = kind == "llm"
            slots[k, j] = (nested_names.index(name) if is_llm else fn_names.index(name), int(is_llm))
            probs[k, j] = p
    fn_blocks: list[tuple[np.ndarray, ...]] = []
    nested_calls: list[tuple[np.ndarray, ...]] = []
    for j in range(2):
        present = (slots[t_tool, j, 0] >= 0) & (rng.random(Tn) < probs[t_tool, j])
        which = np.flatnonzero(present)
        code = slots[t_tool[which], j, 0]
        llm = slots[t_tool[which], j, 1] == 1
        fn_blocks.append((which[~llm], code[~llm], np.full((~llm).sum(), j * 8)))
        nested_calls.append((which[llm], code[llm], np.full(llm.sum(), j * 8)))
    n_which = np.concatenate([w for w, _, _ in nested_calls])
    n_code = np.concatenate([c for _, c, _ in nested_calls])
    n_order = np.concatenate([o for _, _, o in nested_calls])
    call, attempt, err = _llm_attempts(rng, len(n_which))
    nested = sp.add(
        trace=t_trace[n_which[call]],
        parent=tools[n_which[call]],
        kind=np.full(len(call), _NESTED_LLM),
        order=n_order[call] + attempt,
        depth=np.full(len(call), 3),
        attempt=attempt,
        err=err,
        model=np.full(len(call), MODEL_NAMES.index(NESTED_MODEL)),
        nested=n_code[call],
        final=np.ones(len(call)),
    )
    f_which = np.concatenate([w for w, _, _ in fn_blocks])
    f_code = np.concatenate([c for _, c, _ in fn_blocks])
    f_order = np.concatenate([o for _, _, o in fn_blocks])
    sp.add(
        trace=t_trace[f_which],
        parent=tools[f_which],
        kind=np.full(len(f_which), _FN),
        order=f_order,
        depth=np.full(len(f_which), 3),
        fn=f_code,
    )
    ok = np.flatnonzero(err < 0)
    parser = np.array([fn_names.index(NESTED_PARSERS[n]) for n in nested_names])
    sp.add(
        trace=t_trace[n_which[call[ok]]],
        parent=nested[ok],
        kind=np.full(len(ok), _FN),
        order=np.zeros(len(ok)),
        depth=np.full(len(ok), 4),
        fn=parser[n_code[call[ok]]],
    )
    ex = {
        "a_kind": a_kind,
        "a_trace": a_trace,
        "s_tool": s_tool,
        "s_prev": s_prev,
        "s_trace": s_trace,
        "s_agent": s_agent,
        "s_num": s_num,
        "t_err_count": np.bincount(t_trace, weights=t_err, minlength=T),
        "t_count": np.bincount(t_trace, minlength=T),
    }
    return sp, ex


def _timing(rng: np.random.Generator, tr: dict, sp: _Spans) -> dict[str, np.ndarray]:
    """Durations bottom-up, slow/fast adjustment per trace, then start times top-down (ms)."""
    N = sp.count
    kind = sp.column("kind")
    trace = sp.column("trace")
    parent = sp.column("parent")
    depth = sp.column("depth")
    order = sp.column("order")
    err = sp.column("err")
    model = sp.column("model")
    attempt = sp.column("attempt")
    final = sp.column("final", 0)
    agent = sp.column("agent")
    tool = sp.column("tool")
    fn = sp.column("fn")
    own = np.zeros(N)
    gap = rng.uniform(0.001, 0.03, N)

    own[kind == _ROOT] = rng.uniform(0.03, 0.2, (kind == _ROOT).sum())
    own[kind == _CLS] = rng.uniform(0.002, 0.02, (kind == _CLS).sum())
    own[kind == _AGENT] = rng.uniform(0.01, 0.1, (kind == _AGENT).sum())

    # LLM calls: tokens by role, latency by model.
    llm = np.flatnonzero((kind == _CLS_LLM) | (kind == _STEP_LLM) | (kind == _NESTED_LLM))
    n = len(llm)
    k = kind[llm]
    s_num = np.zeros(n)
    is_step = k == _STEP_LLM
    planner, reviewer = tuple(AGENTS).index("planner"), tuple(AGENTS).index("reviewer")
    prompt = np.where(
        k == _CLS_LLM,
        _lognormal(rng, 420, 0.25, n),
        np.where(k == _NESTED_LLM, _lognormal(rng, 1500, 0.4, n), 0),
    )
    # Step LLM prompts grow with the step number (the conversation so far).
    steps_in_agent = sp.blocks[4]["order"] // 8
    s_num[is_step] = steps_in_agent
    prompt = np.where(is_step, (1800 + 900 * s_num) * np.exp(rng.standard_normal(n) * 0.45), prompt)
    is_final = final[llm] == 1
    role_median = np.select(
        [
            k == _CLS_LLM,
            k == _NESTED_LLM,
            is_final & (agent[llm] == planner),
            is_final & (agent[llm] == reviewer),
            is_final,
        ],
        [4, 380, 140, 40, 330],
        default=110,
    )
    completion = np.maximum(1, _lognormal(rng, role_median, np.where(k == _CLS_LLM, 0.3, 0.5), n)).round()
    prompt = np.maximum(50, prompt).round()
    info = np.array([MODELS[m][1:] for m in MODEL_NAMES])  # ttft, tps, in, out
    m = model[llm]
    latency = _lognormal(rng, info[m, 0], 0.35, n) + completion / info[m, 1] * np.exp(rng.standard_normal(n) * 0.15)
    e = err[llm]
    err_dur = np.select(
        [e == 0, e == 1, e == 2, e == 3],
        [rng.uniform(0.05, 0.6, n), rng.uniform(0.4, 3.0, n), rng.uniform(0.2, 1.0, n), rng.uniform(10.0, 30.0, n)],
        default=0.0,
    )
    own[llm] = np.where(e >= 0, err_dur, latency)
    # Backoff before a retry depends on what the previous attempt hit.
    prev_err = np.roll(e, 1)
    backoff = np.select(
        [prev_err == 0, prev_err == 1, prev_err == 2],
        [rng.uniform(1.0, 8.0, n), rng.uniform(0.5, 4.0, n), rng.uniform(0.05, 0.3, n)],
        default=rng.uniform(0.1, 1.0, n),
    )
    gap[llm] = np.where(attempt[llm] > 0, backoff, gap[llm])
    cost_micro = np.maximum(100, np.round(prompt * info[m, 2] + completion * info[m, 3]))
    overflow_tokens = rng.integers(200_001, 260_000, n)
    # Failed requests report no usage.
    ok = e < 0

    ti = np.flatnonzero(kind == _TOOL)
    lat = np.array([TOOL_LATENCY[t] for t in TOOLS])
    own[ti] = _lognormal(rng, lat[tool[ti], 0], lat[tool[ti], 1], len(ti))
    timeout = (tool[ti] == TOOLS.index("fetch_url")) & (err[ti] == 0)
    own[ti] = np.where(timeout, 10.0, own[ti])
    fi = np.flatnonzero(kind == _FN)
    flat = np.array([FUNCTIONS[f][:2] for f in FUNCTIONS])
    own[fi] = _lognormal(rng, flat[fn[fi], 0], flat[fn[fi], 1], len(fi))
    own = np.maximum(own, 0.005)

    def durations(own: np.ndarray, gap: np.ndarray) -> np.ndarray:
        dur = own.copy()
        for d in range(MAX_DEPTH, 0, -1):
            sel = depth == d
            dur += np.bincount(parent[sel], weights=(gap + dur)[sel], minlength=N)
        return dur

    dur = durations(own, gap)
    T = tr["T"]
    root_dur = dur[:T]  # roots are the first block, in trace order
    slow = tr["slow"]
    # Fast traces are squeezed below 58 s; slow traces get their extra time in the tool calls.
    limit = rng.uniform(35.0, 58.0, T)
    factor = np.where(~slow & (root_dur > 58.0), limit / root_dur, 1.0)
    own *= factor[trace]
    gap *= factor[trace]
    target = np.maximum(root_dur, SLOW_TRACE_SECONDS + _lognormal(rng, 25.0, 0.8, T))
    tool_total = np.bincount(trace[ti], weights=own[ti], minlength=T)
    extra = np.where(slow, target - root_dur, 0.0)
    own[ti] += extra[trace[ti]] * own[ti] / np.maximum(tool_total[trace[ti]], 1e-9)
    dur = durations(own, gap)

    rel = np.zeros(N)
    for d in range(1, MAX_DEPTH + 1):
        sel = np.flatnonzero(depth == d)
        o = sel[np.lexsort((order[sel], parent[sel]))]
        p = parent[o]
        stepw = gap[o] + dur[o]
        cs = np.cumsum(stepw)
        first = np.r_[True, p[1:] != p[:-1]]
        base = (cs - stepw)[first]
        gid = np.cumsum(first) - 1
        rel[o] = rel[p] + (cs - stepw - base[gid]) + gap[o]
    t0 = tr["start_ms"][trace]
    start_ms = t0 + np.round(rel * 1000).astype(np.int64)
    end_ms = t0 + np.round((rel + dur) * 1000).astype(np.int64)

    prompt_all = np.full(N, -1, np.int64)
    completion_all = np.full(N, -1, np.int64)
    cost_all = np.full(N, -1, np.int64)
    overflow_all = np.zeros(N, np.int64)
    prompt_all[llm] = np.where(ok, prompt, -1)
    completion_all[llm] = np.where(ok, completion, -1)
    cost_all[llm] = np.where(ok, cost_micro, -1)
    overflow_all[llm] = overflow_tokens
    return {
        "start_ms": start_ms,
        "end_ms": end_ms,
        "prompt": prompt_all,
        "completion": completion_all,
        "cost_micro": cost_all,
        "overflow": overflow_all,
        "kind": kind,
        "trace": trace,
        "parent": parent,
        "depth": depth,
        "model": model,
    }
