// Package chat renders a model's chat template: the Jinja2 program stored
// as tokenizer.chat_template that turns a list of chat messages into the
// prompt text the model was trained on.
//
// Rendering follows Hugging Face transformers' apply_chat_template, the
// reference for these templates: the template sees messages, tools,
// documents, add_generation_prompt, bos_token, eos_token and any extra
// keyword arguments, and may call raise_exception and strftime_now. The
// environment trims the first newline after a block tag (trim_blocks),
// strips the indentation before one (lstrip_blocks) and drops a single
// trailing newline of the source; tojson writes JSON the way Python's
// json.dumps does with ensure_ascii=False (", " and ": " separators, key
// order kept, indent and sort_keys honoured).
//
// The package carries its own Jinja2 interpreter (lexer, parser and a
// tree-walking evaluator) rather than a general Go Jinja library, because
// the output must match Python byte for byte and that depends on Python's
// value semantics: dictionaries that keep insertion order, str() and repr()
// of lists, dicts, floats and None, json.dumps formatting, string methods
// such as split() without arguments, Jinja2's undefined values, filters
// that return one-use generators, and what Jinja2's compiler does to a
// template (constant folding, and frame-local variables that start out
// undefined). It covers the language published chat templates use:
// if/elif/else, for loops with else, filters, loop.cycle, recursion and
// the loop controls, set (including namespace attributes and the block
// form), macros, call and filter blocks, with, raw, comments, whitespace
// control, the usual filters and tests, and the str, dict and list methods
// the immutable sandbox allows.
//
// Not supported: statements that need other templates (extends, include,
// import, block), which fail when the template is parsed; the filters
// groupby, striptags, wordwrap, urlize, urlencode, xmlattr, pprint,
// filesizeformat and random; format specifications in str.format; and
// integers beyond 64 bits. The result of |safe and |escape is a plain
// string, not Markup, so it does not escape what is joined to it.
// Generators print as "<generator object>" without an address.
package chat
