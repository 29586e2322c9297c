package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexName is the file that lists the shards of a sharded model.
const IndexName = "model.safetensors.index.json"

// Dir is the weights of a model directory, held in one or more files.
type Dir struct {
	// Files are the open files, in name order.
	Files []*File
	// Paths are the files' paths.
	Paths []string

	tensors map[string]*Tensor
	names   []string
}

// OpenDir opens the weights of the model directory dir. With a
// model.safetensors.index.json, the files are those its weight_map names,
// and the map must list exactly the tensors each file holds. Without one,
// the weights are model.safetensors, or else every model*.safetensors file
// (the shards of a model whose index is missing). A tensor name that occurs
// in two files is an error.
func OpenDir(dir string) (*Dir, error) {
	index, err := readIndex(filepath.Join(dir, IndexName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var names []string
	switch {
	case index != nil:
		seen := map[string]bool{}
		for _, file := range index {
			if !seen[file] {
				seen[file] = true
				names = append(names, file)
			}
		}
	default:
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
			names = []string{"model.safetensors"}
			break
		}
		matches, err := filepath.Glob(filepath.Join(dir, "model*.safetensors"))
		if err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		for _, m := range matches {
			names = append(names, filepath.Base(m))
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("safetensors: no model.safetensors, %s or model*.safetensors in %s", IndexName, dir)
	}
	sort.Strings(names)

	d := &Dir{tensors: map[string]*Tensor{}}
	fileOf := map[string]string{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := Open(path)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.Files = append(d.Files, f)
		d.Paths = append(d.Paths, path)
		for i := range f.Tensors {
			t := &f.Tensors[i]
			if other, dup := fileOf[t.Name]; dup {
				d.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", t.Name, other, name)
			}
			fileOf[t.Name] = name
			d.tensors[t.Name] = t
			d.names = append(d.names, t.Name)
		}
	}
	sort.Strings(d.names)
	if index != nil {
		if err := checkIndex(index, fileOf); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// readIndex reads the weight map of an index file.
func readIndex(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s has no weight_map", path)
	}
	for tensor, file := range index.WeightMap {
		// The shards must be files of the directory itself.
		if file == "" || file == "." || file == ".." || strings.ContainsAny(file, `/\`) || filepath.Base(file) != file {
			return nil, fmt.Errorf("safetensors: %s: tensor %q is in %q, which is not a file name in the directory", path, tensor, file)
		}
	}
	return index.WeightMap, nil
}

// checkIndex compares the weight map with where the tensors are.
func checkIndex(index, fileOf map[string]string) error {
	var missing, extra, moved []string
	for name, file := range index {
		switch got, ok := fileOf[name]; {
		case !ok:
			missing = append(missing, name)
		case got != file:
			moved = append(moved, fmt.Sprintf("%s (in %s, indexed in %s)", name, got, file))
		}
	}
	for name := range fileOf {
		if _, ok := index[name]; !ok {
			extra = append(extra, name)
		}
	}
	if len(missing)+len(extra)+len(moved) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(moved)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "indexed but in no shard: "+brief(missing))
	}
	if len(extra) > 0 {
		parts = append(parts, "in a shard but not indexed: "+brief(extra))
	}
	if len(moved) > 0 {
		parts = append(parts, "in another shard than indexed: "+brief(moved))
	}
	return fmt.Errorf("safetensors: %s does not match the shards: %s", IndexName, strings.Join(parts, "; "))
}

// brief lists the first few of names.
func brief(names []string) string {
	const most = 5
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// Tensor returns the tensor named name, whichever file holds it.
func (d *Dir) Tensor(name string) (*Tensor, bool) {
	t, ok := d.tensors[name]
	return t, ok
}

// Names returns the names of all tensors, sorted.
func (d *Dir) Names() []string { return append([]string(nil), d.names...) }

// Close closes every file. Tensor data must not be used after it.
func (d *Dir) Close() error {
	var first error
	for _, f := range d.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
