"""`gendisco brainstorm`: the LLM chain against a real local chat-completions server, the
failure modes a user meets (bad key, rate limit, outage, timeout, nothing listening,
garbage replies), the key never shown, and the offline vocabulary."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gendisco import brainstorm as bs
from gendisco.cli import app
from llm_server import LLMServer, Reply, chat, closed_port_url, error, fenced, listed, raw

KEY = "sk-test-Zq8rT3xLm0Vb7Wc2Nd5Yh1"
ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GENDISCO_LLM_MODEL",
    "GENDISCO_LLM_TIMEOUT",
    "GENDISCO_LLM_RETRIES",
)

SUBJECTS = {"subjects": ["a wilted sunflower", "an empty swimming pool", "a faded polaroid"]}
PROMPTS = {
    "prompts": [
        {"subject": "a wilted sunflower", "prompt": "a wilted sunflower in a dry field, dusk"},
        {"subject": "an empty swimming pool", "prompt": "an empty swimming pool, golden light"},
        {"subject": "a faded polaroid", "prompt": "a faded polaroid on a car dashboard, film"},
    ]
}
ENDS = {
    "color": "a city skyline at dusk, neon pink and teal",
    "time": "a city skyline at midnight, lit windows",
    "subject": "a flock of flamingos over the sea at dusk",
    "style": "a city skyline at dusk, ukiyo-e woodblock print",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's real key or server must never leak into a test (nor the test into them)."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with LLMServer() as s:
        yield s


def invoke(args: list[str], *, key: str | None = KEY, **env: str):
    environ = {"OPENAI_API_KEY": key, "GENDISCO_LLM_RETRIES": "0", **env}
    return CliRunner().invoke(app, ["brainstorm", *args], env=environ)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def as_json(value: object) -> str:
    return json.dumps(value)


# 1. The two-stage chain -------------------------------------------------------------------


def test_chain_asks_for_subjects_then_expands_them(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    llm = bs.LLM(model="disco-model", api_key=KEY, base_url=server.url, max_retries=0)

    ideas = bs.brainstorm_prompts("late-summer heartbreak pop song", llm=llm, count=3)

    first, second = server.chat_requests
    assert first.json["model"] == second.json["model"] == "disco-model"
    asked_first = " ".join(m["content"] for m in first.json["messages"])
    assert "late-summer heartbreak pop song" in asked_first
    assert "3" in asked_first
    asked_second = " ".join(m["content"] for m in second.json["messages"])
    for subject in SUBJECTS["subjects"]:
        assert subject in asked_second
    assert "20 words" in asked_second
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert ideas.prompts == [p["prompt"] for p in PROMPTS["prompts"]]
    assert [i.subject for i in ideas.ideas] == SUBJECTS["subjects"]
    assert "disco-model" in ideas.source


def test_cli_prints_pasteable_yaml_and_status_on_stderr(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    result = invoke(["heartbreak in late summer", "--count", "3", "--base-url", server.url])

    assert result.exit_code == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    holds = [interval["hold"]["prompt"] for interval in data["intervals"]]
    assert holds == [p["prompt"] for p in PROMPTS["prompts"]]
    assert "asking gpt-4o-mini" in result.stderr  # the default model, said on stderr
    assert "intervals" not in result.stderr
    assert server.chat_requests[0].json["model"] == "gpt-4o-mini"


def test_llm_model_comes_from_the_environment(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    result = invoke(["a mood", "--base-url", server.url], GENDISCO_LLM_MODEL="llama3.2", key=None)
    assert result.exit_code == 0, result.stderr
    assert {r.json["model"] for r in server.chat_requests} == {"llama3.2"}


@pytest.mark.parametrize(
    "reply",
    [
        '```json\n{"subjects": ["a disco ball", "a palm tree"]}\n```',
        'Sure! Here are some ideas:\n{"subjects": ["a disco ball", "a palm tree"]}\nEnjoy.',
        '["a disco ball", "a palm tree"]',
        '<think>the user wants [things]</think>{"ideas": ["a disco ball", "a palm tree"]}',
        '{"subjects": [{"subject": "a disco ball"}, {"subject": "a palm tree"}]}',
        '{"subjects": ["1. a disco ball", "- \\"a palm tree\\"", "a disco ball"]}',
    ],
)
def test_replies_are_parsed_leniently(server: LLMServer, reply: str) -> None:
    server.queue(chat(reply), chat(as_json(["a mirror disco ball, close-up", "a palm tree"])))
    llm = bs.LLM(api_key=KEY, base_url=server.url, max_retries=0)
    ideas = bs.brainstorm_prompts("tropical disco", llm=llm, count=2)
    assert [i.subject for i in ideas.ideas] == ["a disco ball", "a palm tree"]
    assert ideas.prompts == ["a mirror disco ball, close-up", "a palm tree"]


def test_long_prompts_are_cut_to_twenty_words(server: LLMServer) -> None:
    long = (
        "a towering glass lighthouse on a jagged cliff above a stormy violet sea, "
        "lightning forking across the clouds, dramatic rim lighting, oil painting, "
        "highly detailed, trending"
    )
    server.queue(chat(as_json({"subjects": ["a lighthouse"]})), chat(as_json([long])))
    notes: list[str] = []
    llm = bs.LLM(api_key=KEY, base_url=server.url, max_retries=0)
    ideas = bs.brainstorm_prompts("storm", llm=llm, count=1, status=notes.append)
    (prompt,) = ideas.prompts
    assert len(prompt.split()) <= bs.MAX_WORDS
    assert prompt.startswith("a towering glass lighthouse")
    assert not prompt.endswith(",")
    assert any("trimmed 1 prompt" in n for n in notes)


def test_a_malformed_reply_is_asked_for_again(server: LLMServer) -> None:
    server.queue(
        chat("I would suggest a disco ball and a palm tree."),
        chat(as_json(SUBJECTS)),
        chat(as_json(PROMPTS)),
    )
    llm = bs.LLM(api_key=KEY, base_url=server.url, max_retries=0)
    ideas = bs.brainstorm_prompts("summer", llm=llm, count=3)
    assert len(server.chat_requests) == 3
    retry = server.chat_requests[1].json["messages"]
    assert "not JSON" in retry[-1]["content"]
    assert len(ideas.prompts) == 3


# 1b. Replies as local models write them, at every stage ----------------------------------------

SHAPES = ["json", "fenced", "prose", "numbered", "bulleted", "lines"]
SUBJECT_TEXTS = SUBJECTS["subjects"]
PROMPT_TEXTS = [p["prompt"] for p in PROMPTS["prompts"]]
PROMPTS_BY_SUBJECT = list(zip(SUBJECT_TEXTS, PROMPT_TEXTS, strict=True))
VARIATIONS = ["a mirrored disco ball, close-up", "a glittering disco ball in close-up"]


def shaped(shape: str, key: str, items: list[str]) -> Reply:
    """`items` as one reply of the given shape (JSON ones under `key`)."""
    if shape == "json":
        return chat(as_json({key: items}))
    if shape == "fenced":
        return fenced({key: items})
    if shape == "prose":
        return chat(f"Sure! Here you go: {as_json({key: items})} Enjoy.")
    return listed(items, style=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_chain_accepts_each_reply_shape_at_both_stages(server: LLMServer, shape: str) -> None:
    if shape in ("numbered", "bulleted", "lines"):  # a list names the subject it expands
        prompts = [f"{s}: {p}" if i % 2 else p for i, (s, p) in enumerate(PROMPTS_BY_SUBJECT)]
    else:
        prompts = PROMPT_TEXTS
    server.queue(shaped(shape, "subjects", SUBJECT_TEXTS), shaped(shape, "prompts", prompts))

    done = _run(["summer", "--count", "3", "--base-url", server.url])

    assert done.returncode == 0, done.stderr
    holds = [i["hold"]["prompt"] for i in yaml.safe_load(done.stdout)["intervals"]]
    assert holds == PROMPT_TEXTS
    for subject in SUBJECT_TEXTS:  # each prompt's subject, as a comment above it
        assert f"  # {subject}\n" in done.stdout
    assert len(server.chat_requests) == 2  # nothing was asked twice


@pytest.mark.parametrize("shape", SHAPES)
def test_transitions_accept_each_reply_shape(server: LLMServer, shape: str) -> None:
    if shape in ("json", "fenced", "prose"):
        reply = {"json": chat(as_json(ENDS)), "fenced": fenced(ENDS)}.get(shape) or chat(
            f"Of course. {as_json(ENDS)}"
        )
    else:
        labels = ["Color", "time", "**Subject**", "Style transition"]
        lines = [f"{label}: {ENDS[kind]}" for label, kind in zip(labels, ENDS, strict=True)]
        reply = listed(lines, style=shape)
    server.queue(reply)

    done = _run(["--transitions", "a city skyline at dusk", "--base-url", server.url])

    assert done.returncode == 0, done.stderr
    intervals = yaml.safe_load(done.stdout)["intervals"]
    assert {i["transition"]: i["to"]["prompt"] for i in intervals} == ENDS


def test_four_unlabelled_end_prompts_are_taken_in_the_order_asked(server: LLMServer) -> None:
    server.queue(listed(list(ENDS.values()), style="lines"))
    result = invoke(["--transitions", "a city skyline at dusk", "--base-url", server.url])
    assert result.exit_code == 0, result.stderr
    intervals = yaml.safe_load(result.stdout)["intervals"]
    assert {i["transition"]: i["to"]["prompt"] for i in intervals} == ENDS


@pytest.mark.parametrize("shape", SHAPES)
def test_variations_accept_each_reply_shape(server: LLMServer, shape: str) -> None:
    server.queue(shaped(shape, "variations", VARIATIONS))
    prompt = "a disco ball, close-up"
    done = _run(["--variations", prompt, "--count", "2", "--base-url", server.url])
    assert done.returncode == 0, done.stderr
    assert [i["hold"]["prompt"] for i in yaml.safe_load(done.stdout)["intervals"]] == VARIATIONS


def test_json_mode_is_asked_for_where_the_server_has_it(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    result = invoke(["summer", "--base-url", server.url])
    assert result.exit_code == 0, result.stderr
    formats = [r.json.get("response_format") for r in server.chat_requests]
    assert formats == [{"type": "json_object"}] * 2


def test_a_server_without_json_mode_is_asked_without_it_from_then_on() -> None:
    with LLMServer(json_mode=False) as server:
        server.queue(listed(SUBJECT_TEXTS), listed(PROMPT_TEXTS, style="bulleted"))
        done = _run(["summer", "--count", "3", "--base-url", server.url])
        requests = server.chat_requests

    assert done.returncode == 0, done.stderr
    holds = [i["hold"]["prompt"] for i in yaml.safe_load(done.stdout)["intervals"]]
    assert holds == PROMPT_TEXTS
    # refused once, asked again without it at once, and never asked for again
    assert ["response_format" in r.json for r in requests] == [True, False, False]
    assert requests[0].json["messages"] == requests[1].json["messages"]
    assert done.stderr.count("has no JSON mode") == 1


def test_a_refusal_of_json_mode_is_remembered_for_later_clients_of_that_server() -> None:
    # the studio makes a client per request: only the first may be refused
    with LLMServer(json_mode=False) as server:
        server.queue(chat(as_json({"variations": VARIATIONS})))
        for _ in range(2):
            llm = bs.LLM(api_key=KEY, base_url=server.url, model="local", max_retries=0)
            ideas = bs.brainstorm_variations("a disco ball", llm=llm, count=2)
            assert ideas.prompts == VARIATIONS
        asked = ["response_format" in r.json for r in server.chat_requests]
        other = bs.LLM(api_key=KEY, base_url=server.url, model="another", max_retries=0)
    assert asked == [True, False, False]
    assert other.json_mode  # another model on that server may have it


def test_a_request_refused_with_or_without_json_mode_fails_in_one_line(server: LLMServer) -> None:
    server.queue(error(400, "model 'nope' is not loaded"))
    result = invoke(["summer", "--base-url", server.url])
    line = _assert_one_clean_error(result, "refused the request (400", "is not loaded")
    assert "JSON" not in line
    assert ["response_format" in r.json for r in server.chat_requests] == [True, False]


def test_a_plain_text_second_stage_through_the_cli(server: LLMServer) -> None:
    # the reported failure: stage 2 answered with a numbered list, "the reply was not JSON"
    server.queue(chat(as_json(SUBJECTS)), listed(PROMPT_TEXTS))
    done = _run(["late-summer heartbreak", "--count", "3", "--base-url", server.url])
    assert done.returncode == 0, done.stderr
    assert [i["hold"]["prompt"] for i in yaml.safe_load(done.stdout)["intervals"]] == PROMPT_TEXTS
    assert "asking again" not in done.stderr


@pytest.mark.parametrize(
    "reply",
    [
        "I'm sorry, but I can't help with that.",
        "Sure! Here are some ideas:",
        "```json\n{}\n```",
        "",
    ],
)
def test_a_reply_with_no_usable_prompt_fails_in_one_line(server: LLMServer, reply: str) -> None:
    server.queue(chat(reply))
    done = _run(["summer", "--base-url", server.url])
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = error_lines(done.stderr)
    assert "gave an unusable reply twice" in line
    assert len(server.chat_requests) == 2  # asked once more, then gave up
    assert done.stdout == ""


def test_plain_items_skip_prose_headings_and_markup() -> None:
    reply = (
        "<think>they want [three] things</think>Sure! Here are three subjects:\n\n"
        "### Subjects\n1) **a disco ball**\n2. a palm tree\n(3) an empty pool\n\n"
        "Let me know if you want more."
    )
    assert bs.plain_items(reply) == ["a disco ball", "a palm tree", "an empty pool"]
    assert bs.plain_items("a disco ball\n\na palm tree\n") == ["a disco ball", "a palm tree"]
    assert bs.plain_items("I cannot do that.\nSorry!") == []


def test_reply_candidates_put_json_first_and_the_list_second() -> None:
    reply = '1. a disco ball\n2. a palm tree [{"x": 1}]'
    assert bs.reply_candidates(reply) == [[{"x": 1}], ["a disco ball", "a palm tree"]]
    assert bs.reply_candidates('```json\n{"subjects": []}\n```') == [{"subjects": []}]
    with pytest.raises(bs.ReplyError, match="empty"):
        bs.reply_candidates("<think>hmm</think>")
    with pytest.raises(bs.ReplyError, match="not JSON nor a list"):
        bs.reply_candidates("Sorry, I can't.")


@pytest.mark.parametrize(
    ("line", "split"),
    [
        ("Color: a red city", ("Color", "a red city")),
        ("time - the city at noon", ("time", "the city at noon")),
        ("style — a woodcut", ("style", "a woodcut")),
        ("a red-brick city at dusk", None),
    ],
)
def test_split_label(line: str, split: tuple[str, str] | None) -> None:
    assert bs.split_label(line) == split


# 2. Transitions and variations --------------------------------------------------------------


def _project_from(snippet: str, tmp_path: Path):
    from gendisco.project import load_project, resolve_intervals

    path = tmp_path / "ideas.yaml"
    path.write_text("song: song.wav\n" + snippet)
    return resolve_intervals(load_project(path, check_song=False))


def test_transitions_paste_into_a_valid_project(server: LLMServer, tmp_path: Path) -> None:
    server.queue(chat(as_json(ENDS)))
    start = "a city skyline at dusk"
    result = invoke(["--transitions", start, "--base-url", server.url])

    assert result.exit_code == 0, result.stderr
    asked = server.chat_requests[0].json["messages"][-1]["content"]
    assert start in asked and all(kind in asked for kind in ENDS)
    resolved = _project_from(result.stdout, tmp_path)
    assert [r.transition for r in resolved] == ["color", "time", "subject", "style"]
    assert {r.from_prompt for r in resolved} == {start}
    assert [r.to_prompt for r in resolved] == list(ENDS.values())


def test_transitions_missing_a_kind_are_asked_again_then_fail(server: LLMServer) -> None:
    server.queue(chat(as_json({"color": "a red city"})))
    result = invoke(["--transitions", "a city", "--base-url", server.url])
    assert result.exit_code == 1
    assert len(server.chat_requests) == 2
    (line,) = error_lines(result.stderr)
    assert "time, subject, style" in line


def test_variations_are_holds(server: LLMServer, tmp_path: Path) -> None:
    rewordings = ["a mirrored disco ball, close-up", "a glittering disco ball in close-up"]
    server.queue(chat(as_json({"variations": ["a disco ball, close-up", *rewordings]})))
    result = invoke(
        ["--variations", "a disco ball, close-up", "--count", "2", "--base-url", server.url]
    )
    assert result.exit_code == 0, result.stderr
    resolved = _project_from(result.stdout, tmp_path)
    assert [r.kind for r in resolved] == ["hold", "hold"]
    assert [r.from_prompt for r in resolved] == rewordings  # the echo of the prompt dropped


# 3. Failures: one line, exit 1, no traceback, no key ---------------------------------------


def _assert_one_clean_error(result, *needles: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for text in (result.stdout, result.stderr):
        assert KEY not in text
        assert KEY[-6:] not in text and KEY[:10] not in text
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("reply", "needles", "tries"),
    [
        (error(401, f"Incorrect API key provided: {KEY[:8]}*****{KEY[-4:]}"), ["401"], 1),
        (error(401, f"Incorrect API key provided: {KEY}"), ["OPENAI_API_KEY"], 1),
        (error(403, f"key {KEY} may not use this model"), ["403"], 1),
        (error(404, "The model `nope` does not exist", code="model_not_found"), ["404"], 1),
        (error(429, "Rate limit reached"), ["429", "tried 3 times"], 3),
        (error(500, "The server had an error"), ["500", "tried 3 times"], 3),
        (error(503, "overloaded"), ["503"], 3),
        (raw(b'{"choices": [{"message": '), ["not a chat completion"], 1),
        (raw(b"<html>gateway</html>", content_type="text/html"), ["not a chat completion"], 1),
        (chat("no json in here, sorry"), ["unusable reply", "not JSON"], 2),
        (chat(""), ["unusable reply", "empty"], 2),
        (chat(None), ["unusable reply", "empty"], 2),
    ],
)
def test_server_failures_give_one_line(
    server: LLMServer, reply, needles: list[str], tries: int
) -> None:
    server.queue(reply)
    result = invoke(["summer", "--base-url", server.url], GENDISCO_LLM_RETRIES="2")
    _assert_one_clean_error(result, *needles)
    assert len(server.chat_requests) == tries  # the client retried only what may pass later


def test_a_slow_server_times_out(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS), delay_s=5))
    result = invoke(["summer", "--base-url", server.url, "--timeout", "0.3"])
    line = _assert_one_clean_error(result, "no reply", "0.3 s", "--timeout")
    assert server.url.removesuffix("/v1") in line


def test_nothing_listening_is_connection_refused() -> None:
    url = closed_port_url()
    result = invoke(["summer", "--base-url", url])
    _assert_one_clean_error(result, "cannot connect", url, "refused")


def test_base_url_credentials_are_not_shown() -> None:
    url = closed_port_url().replace("http://", "http://user:hunter2@")
    result = invoke(["summer", "--base-url", url])
    line = _assert_one_clean_error(result, "cannot connect")
    assert "hunter2" not in line


def test_llm_error_text_is_scrubbed_of_key_fragments() -> None:
    said = f"bad key {KEY[:7]}...{KEY[-4:]} or {KEY[3:15]} or sk-abc****wxyz"
    scrubbed = bs.scrub(said, KEY)
    assert KEY[3:15] not in scrubbed and KEY[-4:] not in scrubbed
    assert "****" not in scrubbed
    assert scrubbed.startswith("bad key [key]")


def test_llm_repr_hides_the_key() -> None:
    llm = bs.LLM(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    assert KEY not in repr(llm) and KEY not in repr(vars(llm).get("_client"))


# 4. Keys and providers ------------------------------------------------------------------------


def test_local_server_without_key_gets_a_placeholder(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    result = invoke(["summer", "--base-url", server.url], key=None)
    assert result.exit_code == 0, result.stderr
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {bs.PLACEHOLDER_KEY}"


def test_base_url_from_environment(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    result = invoke(["summer"], OPENAI_BASE_URL=server.url)
    assert result.exit_code == 0, result.stderr
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_no_key_and_no_server_falls_back_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("brainstorm touched the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    result = invoke(["late-summer heartbreak pop song", "--seed", "1"], key=None)
    assert result.exit_code == 0, result.stderr
    assert "offline vocabulary" in result.stderr
    assert len(yaml.safe_load(result.stdout)["intervals"]) == 6


def test_bad_options_are_user_errors() -> None:
    assert invoke([]).exit_code == 2
    both = invoke(["--transitions", "a", "--variations", "b"])
    assert both.exit_code == 2 and "not both" in both.stderr
    assert invoke(["x", "--base-url", "localhost:11434"]).exit_code == 2
    assert invoke(["x", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "0"]).exit_code == 2


# 5. The offline vocabulary --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["late-summer heartbreak pop song"],
        ["Bohemian Rhapsody by Queen", "--count", "3"],
        ["--transitions", "a city skyline at dusk, neon glow"],
        ["--transitions", "a mirror disco ball"],
        ["--variations", "a koi pond at night, watercolor", "--count", "5"],
    ],
)
def test_offline_is_repeatable_and_pastes_into_a_project(args: list[str], tmp_path: Path) -> None:
    runs = [invoke([*args, "--offline", "--seed", str(seed)]) for seed in (7, 7, 8)]
    assert all(r.exit_code == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stdout != runs[2].stdout
    resolved = _project_from(runs[0].stdout, tmp_path)
    assert len({r.to_prompt for r in resolved}) == len(resolved)  # no duplicates
    for r in resolved:
        assert 0 < len(r.to_prompt.split()) <= bs.MAX_WORDS
    if "--transitions" in args:
        start = args[args.index("--transitions") + 1]
        by_kind = {r.transition: r.to_prompt for r in resolved}
        assert by_kind["color"].startswith(start) and by_kind["style"].startswith(start)
        assert not by_kind["subject"].startswith(start.split(",")[0])
        assert by_kind["time"] != start


def test_offline_subjects_follow_the_goal() -> None:
    ideas = bs.offline_prompts("rainy night drive", count=4, seed=0)
    known = bs.VIDEOGRAPHY.symbols
    symbols = set(known["rain"] + known["night"] + known["drive"])
    assert {i.subject for i in ideas.ideas} <= symbols
    unknown = bs.offline_prompts("zxq", count=3, seed=0)
    assert unknown.ideas[0].subject == "zxq"


def test_offline_subject_transition_keeps_the_time_of_day_and_the_modifiers() -> None:
    for model in (None, "tiny"):
        words = bs.offline_words(model)
        for seed in range(5):
            ideas = bs.offline_transitions("a city skyline at dusk, red", seed=seed, words=words)
            subject_end = ideas.ideas[2].prompt
            assert ideas.ideas[2].transition == "subject"
            assert not subject_end.startswith("a city skyline")
            assert " at dusk, red" in subject_end, subject_end


def test_offline_time_transition_swaps_the_time_of_day() -> None:
    for seed in range(5):
        ideas = bs.offline_transitions("a harbour at dusk, oil painting", seed=seed)
        time_end = ideas.ideas[1].prompt
        assert "dusk" not in time_end and time_end.startswith("a harbour")


def test_yaml_survives_quotes_and_newlines_in_the_goal(tmp_path: Path) -> None:
    goal = 'she said "goodbye" # at 3:00\nthen: left'
    result = invoke([goal, "--offline", "--seed", "2"])
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["intervals"]
    _project_from(result.stdout, tmp_path)


# 6. As a user runs it ---------------------------------------------------------------------------


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    environ.update({"GENDISCO_LLM_RETRIES": "0", **env})
    code = (
        "import sys; from gendisco.cli import main; sys.argv = ['gendisco', *sys.argv[1:]]\n"
        "try:\n    main()\nfinally:\n"
        "    print('torch loaded' if 'torch' in sys.modules else 'no torch', file=sys.stderr)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "brainstorm", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )


def test_subprocess_chain_without_torch_or_key_in_output(server: LLMServer) -> None:
    server.queue(chat(as_json(SUBJECTS)), chat(as_json(PROMPTS)))
    done = _run(["summer", "--base-url", server.url], OPENAI_API_KEY=KEY)
    assert done.returncode == 0, done.stderr
    assert len(yaml.safe_load(done.stdout)["intervals"]) == 3
    assert "no torch" in done.stderr
    assert KEY not in done.stdout + done.stderr
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_subprocess_rejected_key(server: LLMServer) -> None:
    server.queue(error(401, f"Incorrect API key provided: {KEY}"))
    done = _run(["summer", "--base-url", server.url], OPENAI_API_KEY=KEY)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert KEY not in done.stdout + done.stderr
    assert len(error_lines(done.stderr)) == 1


def test_subprocess_offline() -> None:
    done = _run(["--transitions", "a city skyline at dusk", "--offline", "--seed", "3"])
    assert done.returncode == 0, done.stderr
    assert [i["transition"] for i in yaml.safe_load(done.stdout)["intervals"]] == [
        "color",
        "time",
        "subject",
        "style",
    ]
    assert "no torch" in done.stderr


# 7. --images ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_images_renders_a_sheet_of_the_prompts(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "sheet.png"
    args = ["--variations", "a koi pond", "--count", "2", "--offline", "--seed", "1"]
    images = ["--images", "--model", "tiny", "--device", "cpu", "--width", "64", "--height", "64"]
    result = invoke([*args, *images, "--out", str(out)])

    assert result.exit_code == 0, result.stderr
    holds = [i["hold"]["prompt"] for i in yaml.safe_load(result.stdout)["intervals"]]
    with Image.open(out) as sheet:
        recorded = json.loads(sheet.text["gendisco"])
        assert sheet.width > 2 * 64
    assert len(recorded["boxes"]) == 2
    assert [label.split("\n")[1] for label in recorded["labels"]] == holds
    assert str(out) in result.stderr


def test_images_bad_path_fails_before_asking(server: LLMServer, tmp_path: Path) -> None:
    for out in (tmp_path / "sheet.jpg", tmp_path / "missing" / "sheet.png"):
        result = invoke(["summer", "--base-url", server.url, "--images", "--out", str(out)])
        assert result.exit_code == 2
        assert str(out.parent if out.suffix == ".png" else out) in error_lines(result.stderr)[0]
    assert server.chat_requests == []
