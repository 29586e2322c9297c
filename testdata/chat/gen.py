#!/usr/bin/env python3
"""Render the chat-template test cases with Python's jinja2 (the engine
Hugging Face transformers renders chat templates with), configured as
transformers configures it, and write the expected outputs as JSON.

Usage, from the repository root:

    python3 testdata/chat/gen.py [SHARED_DIR]

SHARED_DIR defaults to ../shared; its tokenizers/{llama3,qwen3} configs give
two of the templates. Needs only jinja2 (3.x); tested with jinja2 3.1.6.
"""

import datetime
import hashlib
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")

# strftime_now reads this fixed clock so that renderings are reproducible;
# the Go tests pass the same instant.
NOW = datetime.datetime(2024, 7, 26, 9, 5, 3)


class TemplateException(Exception):
    pass


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %}, which transformers uses to
    mark assistant text; the body renders like a call block's."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[GenerationTag, "jinja2.ext.loopcontrols"],
    )

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message):
        raise TemplateException(message)

    def strftime_now(fmt):
        return NOW.strftime(fmt)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, messages, tools=None, add_generation_prompt=False, bos=None, eos=None, kwargs=None):
    """Renders as transformers' apply_chat_template(tokenize=False) does:
    special tokens that exist, then the keyword arguments."""
    ctx = {}
    if bos is not None:
        ctx["bos_token"] = bos
    if eos is not None:
        ctx["eos_token"] = eos
    ctx.update(kwargs or {})
    try:
        tpl = ENV.from_string(source)
        out = tpl.render(messages=messages, tools=tools, documents=None,
                         add_generation_prompt=add_generation_prompt, **ctx)
        return {"want": out}
    except TemplateException as e:
        return {"raise": str(e)}
    except Exception as e:  # any other failure: the Go side must fail too
        return {"error": f"{type(e).__name__}: {e}"}


# Conversations, written with keys in the order Go's chat.Message writes
# them (role, content, name, tool_calls, tool_call_id, reasoning_content),
# since templates can observe key order.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city — temperature in °C",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "description": "The time now", "parameters": {"type": "object", "properties": {}}},
}

CONVERSATIONS = {
    "user": [
        {"role": "user", "content": "Hello!"},
    ],
    "system_user": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "multi_turn": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello. How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "no_system_turns": [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "An assistant."},
        {"role": "user", "content": "Prove it."},
        {"role": "assistant", "content": "I answer questions."},
    ],
    "whitespace": [
        {"role": "system", "content": "  Be brief.\n"},
        {"role": "user", "content": "\n  Padded question?  \n\n"},
        {"role": "assistant", "content": "   padded answer   "},
        {"role": "user", "content": "\tTabs\tand\r\nCRLF "},
    ],
    "unicode": [
        {"role": "user", "content": "Ça va? 你好 🙂 \"quoted\" and 'single' \\ backslash <tag> & amp"},
        {"role": "assistant", "content": "Très bien — 谢谢! {\"json\": [1, 2]}"},
        {"role": "user", "content": "{{ not a template }} {% neither %}"},
    ],
    "tool_calls": [
        {"role": "system", "content": "You can check the weather."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}},
        ]},
        {"role": "tool", "content": "{\"temperature\": 21, \"sky\": \"clear\"}", "name": "get_weather", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
        {"role": "user", "content": "Thanks"},
    ],
    "tool_calls_empty_content": [
        {"role": "user", "content": "Weather in Rome and Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            {"type": "function", "function": {"name": "get_weather", "arguments": {"unit": "celsius", "city": "Oslo"}}},
        ]},
        {"role": "tool", "content": "25 °C", "name": "get_weather"},
        {"role": "tool", "content": "-3 °C", "name": "get_weather"},
        {"role": "assistant", "content": "Rome 25 °C, Oslo -3 °C."},
    ],
    "tool_calls_string_args": [
        {"role": "user", "content": "Time and weather in Oslo?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
        ]},
        {"role": "tool", "content": "12:00", "tool_call_id": "a"},
        {"role": "tool", "content": "-3 °C", "tool_call_id": "b"},
    ],
    "thinking": [
        {"role": "user", "content": "What is 17*3?"},
        {"role": "assistant", "content": "<think>\n17*3 = 51.\n</think>\n\n51"},
        {"role": "user", "content": "And 17*4?"},
        {"role": "assistant", "content": "68", "reasoning_content": "17*4 = 68."},
    ],
    "parts": [
        {"role": "system", "content": [{"type": "text", "text": "Describe images."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is this? "}]},
    ],
    "roles_not_alternating": [
        {"role": "user", "content": "One"},
        {"role": "user", "content": "Two"},
    ],
    "empty": [],
}

TEMPLATES = {
    # name: (file under templates/, bos, eos)
    "chatml": ("chatml.jinja", "<s>", "<|im_end|>"),
    "mistral-v0.2": ("mistral-v0.2.jinja", "<s>", "</s>"),
    "llama2": ("llama2.jinja", "<s>", "</s>"),
    "gemma": ("gemma.jinja", "<bos>", "<eos>"),
    "gemma3": ("gemma3.jinja", "<bos>", "<eos>"),
    "phi3": ("phi3.jinja", "<s>", "<|endoftext|>"),
    "command-r": ("command-r.jinja", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "deepseek-coder": ("deepseek-coder.jinja", "<｜begin▁of▁sentence｜>", "<|EOT|>"),
    "llama3.2": ("llama3.2.jinja", "<|begin_of_text|>", "<|eot_id|>"),
}

# Shared tokenizer configs: the template, bos and eos come from the file.
SHARED_TEMPLATES = ["llama3", "qwen3"]


def option_sets(name):
    """The rendering options each conversation is rendered with."""
    sets = [
        {"add_generation_prompt": False},
        {"add_generation_prompt": True},
        {"add_generation_prompt": True, "tools": [WEATHER_TOOL, TIME_TOOL]},
    ]
    if name == "qwen3":
        sets += [
            {"add_generation_prompt": True, "kwargs": {"enable_thinking": False}},
            {"add_generation_prompt": True, "kwargs": {"enable_thinking": True}},
            {"add_generation_prompt": False, "kwargs": {"enable_thinking": False}},
        ]
    if name == "llama3.2":
        sets += [
            {"add_generation_prompt": True, "tools": [WEATHER_TOOL], "kwargs": {"tools_in_user_message": False}},
            {"add_generation_prompt": True, "kwargs": {"date_string": "01 Jan 2025"}},
        ]
    return sets


def cases_for(name, source, bos, eos):
    cases = []
    for conv_name, messages in CONVERSATIONS.items():
        for opts in option_sets(name):
            tag = "gen" if opts["add_generation_prompt"] else "nogen"
            if "tools" in opts:
                tag += "_tools"
            for k, v in sorted(opts.get("kwargs", {}).items()):
                tag += f"_{k}={json.dumps(v)}"
            case = {
                "name": f"{conv_name}/{tag}",
                "messages": messages,
                "tools": opts.get("tools"),
                "add_generation_prompt": opts["add_generation_prompt"],
                "kwargs": opts.get("kwargs", {}),
            }
            case.update(render(source, messages, opts.get("tools"), opts["add_generation_prompt"], bos, eos, opts.get("kwargs")))
            cases.append(case)
    return cases


def write(name, doc):
    path = os.path.join(HERE, name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", path, len(doc["cases"]), "cases")


def main():
    for name, (file, bos, eos) in TEMPLATES.items():
        with open(os.path.join(HERE, "templates", file), encoding="utf-8") as f:
            source = f.read()
        write(name, {"template": "templates/" + file, "bos": bos, "eos": eos,
                     "cases": cases_for(name, source, bos, eos)})
    for name in SHARED_TEMPLATES:
        path = os.path.join(SHARED, "tokenizers", name, "tokenizer_config.json")
        with open(path, "rb") as f:
            raw = f.read()
        cfg = json.loads(raw)
        source, bos, eos = cfg["chat_template"], cfg.get("bos_token"), cfg.get("eos_token")
        write(name, {"tokenizer_config": f"tokenizers/{name}/tokenizer_config.json",
                     "sha256": hashlib.sha256(raw).hexdigest(), "bos": bos or "", "eos": eos or "",
                     "cases": cases_for(name, source, bos, eos)})
    snippets = json.load(open(os.path.join(HERE, "snippets.in.json"), encoding="utf-8"))
    out = []
    for sn in snippets:
        r = render(sn["source"], [], None, False, None, None, sn.get("vars", {}))
        out.append({**sn, **r})
    write("snippets", {"cases": out})


if __name__ == "__main__":
    main()
