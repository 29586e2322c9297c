package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/joule-llm/joule/chat"
)

type templateOptions struct {
	model, hf     string
	messages      string
	tools         string
	kwargs        string
	addGeneration bool
}

func newTemplateCmd() *cobra.Command {
	var o templateOptions
	cmd := &cobra.Command{
		Use:   "template (-m MODEL.gguf | --hf DIR) --messages FILE.json",
		Short: "Print the prompt a model's chat template makes of a conversation",
		Long: `Render a chat template the way Hugging Face transformers does and print
the prompt exactly, with no newline added.

The template comes from a GGUF file (tokenizer.chat_template) or from a
Hugging Face model directory (chat_template.jinja, else the chat_template of
tokenizer_config.json; --hf also takes the config file itself). --messages
is a JSON array of OpenAI-style chat messages ("-" reads standard input),
--tools a JSON array of tool schemas, --kwargs a JSON object of extra
template variables such as {"enable_thinking": false}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTemplate(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.model, "model", "m", "", "GGUF model file")
	f.StringVar(&o.hf, "hf", "", "Hugging Face model directory or tokenizer_config.json")
	f.StringVar(&o.messages, "messages", "", "JSON file of chat messages (required; - for stdin)")
	f.StringVar(&o.tools, "tools", "", "JSON file of tool schemas")
	f.StringVar(&o.kwargs, "kwargs", "", "JSON object of extra template variables")
	f.BoolVar(&o.addGeneration, "add-generation-prompt", false, "end with the start of an assistant turn")
	return cmd
}

func runTemplate(cmd *cobra.Command, o templateOptions) error {
	if (o.model == "") == (o.hf == "") {
		return errors.New("template: give exactly one of -m and --hf")
	}
	if o.messages == "" {
		return errors.New("template: --messages is required")
	}
	tpl, err := loadTemplate(o)
	if err != nil {
		return err
	}
	data, err := readInput(cmd.InOrStdin(), o.messages)
	if err != nil {
		return err
	}
	var msgs []chat.Message
	if err := json.Unmarshal(data, &msgs); err != nil {
		return fmt.Errorf("template: messages %s: %w", o.messages, err)
	}
	opts := chat.Options{AddGenerationPrompt: o.addGeneration}
	if o.tools != "" {
		data, err := readInput(cmd.InOrStdin(), o.tools)
		if err != nil {
			return err
		}
		// Raw JSON keeps each schema's key order, which tojson shows.
		var tools []json.RawMessage
		if err := json.Unmarshal(data, &tools); err != nil {
			return fmt.Errorf("template: tools %s: %w", o.tools, err)
		}
		opts.Tools = make([]any, len(tools))
		for i, t := range tools {
			opts.Tools[i] = t
		}
	}
	if o.kwargs != "" {
		var kw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(o.kwargs), &kw); err != nil {
			return fmt.Errorf("template: --kwargs must be a JSON object: %w", err)
		}
		opts.Kwargs = make(map[string]any, len(kw))
		for k, v := range kw {
			opts.Kwargs[k] = v
		}
	}
	out, err := tpl.Render(msgs, opts)
	if err != nil {
		return err
	}
	_, err = io.WriteString(cmd.OutOrStdout(), out)
	return err
}

func loadTemplate(o templateOptions) (*chat.Template, error) {
	if o.model != "" {
		f, err := openModel(o.model)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return chat.FromGGUF(f)
	}
	cfgPath, dir := o.hf, o.hf
	if st, err := os.Stat(o.hf); err != nil {
		return nil, err
	} else if st.IsDir() {
		cfgPath = filepath.Join(o.hf, "tokenizer_config.json")
	} else {
		dir = filepath.Dir(o.hf)
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	// Newer model repositories keep the template in its own file, which
	// transformers prefers to the config's.
	src, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja"))
	if errors.Is(err, fs.ErrNotExist) {
		return chat.FromTokenizerConfig(cfg)
	}
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(cfg, &merged); err != nil {
		return nil, fmt.Errorf("template: %s: %w", cfgPath, err)
	}
	if merged["chat_template"], err = json.Marshal(string(src)); err != nil {
		return nil, err
	}
	if cfg, err = json.Marshal(merged); err != nil {
		return nil, err
	}
	return chat.FromTokenizerConfig(cfg)
}

func readInput(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}
