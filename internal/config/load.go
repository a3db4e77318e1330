package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

const (
	// EnvConfig names the environment variable holding the config file
	// path, consulted when no path is given by flag.
	EnvConfig = "GATEHOUSE_CONFIG"
	// DefaultPath is the config file used, relative to the working
	// directory, when neither a flag nor EnvConfig names one and it exists.
	DefaultPath = "config/config.toml"

	envPrefix = "GATEHOUSE_"
)

// Environ is the process environment as Load sees it: variable name to
// value. A nil Environ is an empty environment.
type Environ map[string]string

// OSEnviron returns the process's environment.
func OSEnviron() Environ {
	m := Environ{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Load builds the configuration from the built-in defaults, a config file
// and GATEHOUSE_<SECTION>_<KEY> environment variables (which win over the
// file), then validates it.
//
// The file is flagPath if non-empty, else the value of GATEHOUSE_CONFIG if
// non-empty (a named file that does not exist is an error), else
// ./config/config.toml if it exists; otherwise only defaults and the
// environment are used. The returned path is the file used, "" for none.
//
// environ is usually OSEnviron(); an empty value counts as unset. A
// GATEHOUSE_* variable that is neither a key's variable nor
// GATEHOUSE_CONFIG nor reserved for the test suite (GATEHOUSE_TEST_*) is
// an error, with the closest known name suggested. Errors name the
// offending key ("server.listen"), with the file's line where known, or
// the offending environment variable.
func Load(flagPath string, environ Environ) (Config, string, error) {
	getenv := func(k string) string { return environ[k] }
	if err := checkEnvNames(environ); err != nil {
		return Config{}, "", fmt.Errorf("config: %w", err)
	}
	path, err := findFile(flagPath, getenv)
	if err != nil {
		return Config{}, path, err
	}

	cfg := Default()
	sources := map[string]string{} // key -> where its value came from
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, path, fmt.Errorf("config: reading %s: %w", path, err)
		}
		present, err := decodeFile(data, &cfg)
		if err != nil {
			return Config{}, path, fmt.Errorf("config file %s: %w", path, err)
		}
		for _, k := range present {
			sources[k] = path
		}
	}

	envSet, err := applyEnv(&cfg, getenv)
	if err != nil {
		return Config{}, path, fmt.Errorf("config: %w", err)
	}
	for k, name := range envSet {
		sources[k] = name
	}

	if _, explicit := sources["database.driver"]; !explicit {
		cfg.Database.Infer()
	}
	cfg.Signing.Secret = getenv(EnvSigningSecret)

	probs := cfg.problems()
	for _, p := range probs {
		p.Source = sources[p.Key]
	}
	if err := joinFieldErrors(probs); err != nil {
		return Config{}, path, fmt.Errorf("config: %w", err)
	}
	return cfg, path, nil
}

// findFile applies the lookup order described at Load.
func findFile(flagPath string, getenv func(string) string) (string, error) {
	named := func(path, how string) (string, error) {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return path, fmt.Errorf("config file %s (%s) does not exist", path, how)
		case err != nil:
			return path, fmt.Errorf("config file %s (%s): %w", path, how, err)
		case fi.IsDir():
			return path, fmt.Errorf("config file %s (%s) is a directory", path, how)
		}
		return path, nil
	}
	if flagPath != "" {
		return named(flagPath, "given on the command line")
	}
	if p := getenv(EnvConfig); p != "" {
		return named(p, "named by "+EnvConfig)
	}
	fi, err := os.Stat(DefaultPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return DefaultPath, fmt.Errorf("config file %s: %w", DefaultPath, err)
	case fi.IsDir():
		return DefaultPath, fmt.Errorf("config file %s is a directory", DefaultPath)
	}
	return DefaultPath, nil
}

// decodeFile decodes a TOML document strictly into cfg and returns the
// "section.key" names it sets.
func decodeFile(data []byte, cfg *Config) ([]string, error) {
	// A generic decode first: it reports syntax errors and tells which
	// keys the file sets, and serves to pin down errors go-toml reports
	// without a key.
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, describeDecodeError(err)
	}
	var present []string
	for sec, v := range raw {
		if m, ok := v.(map[string]any); ok {
			for k := range m {
				present = append(present, sec+"."+k)
			}
		}
	}
	sort.Strings(present)

	err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(cfg)
	if err == nil {
		return present, nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var msgs []string
		for i := range strict.Errors {
			e := &strict.Errors[i]
			key := strings.Join(e.Key(), ".")
			msg := "unknown key " + key
			if s := suggest(key); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			line, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("line %d: %s", line, msg))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) && len(de.Key()) > 0 {
		return nil, describeDecodeError(err)
	}
	if key, msg := pinpoint(raw); key != "" {
		return nil, fmt.Errorf("%s: %s", key, msg)
	}
	return nil, err
}

var typeMismatch = regexp.MustCompile(`^cannot decode TOML (.+) into struct field \S+ of type \S+$`)

// describeDecodeError renders a go-toml error as "line N: section.key: msg".
func describeDecodeError(err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return err
	}
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	key := strings.Join(de.Key(), ".")
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("expected %s, got a TOML %s", expectedKind(key), m[1])
	}
	line, _ := de.Position()
	if key == "" {
		return fmt.Errorf("line %d: %s", line, msg)
	}
	return fmt.Errorf("line %d: %s: %s", line, key, msg)
}

// pinpoint finds which key of a document (already known to be valid TOML)
// fails to decode into a Config, by decoding the keys one at a time. It
// serves for errors go-toml reports without a key, such as those from a
// TextUnmarshaler.
func pinpoint(raw map[string]any) (key, msg string) {
	secs := make([]string, 0, len(raw))
	for s := range raw {
		secs = append(secs, s)
	}
	sort.Strings(secs)
	for _, sec := range secs {
		m, ok := raw[sec].(map[string]any)
		if !ok {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			doc, err := toml.Marshal(map[string]any{sec: map[string]any{k: m[k]}})
			if err != nil {
				continue
			}
			probe := Default()
			err = toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields().Decode(&probe)
			if err != nil {
				return sec + "." + k, strings.TrimPrefix(err.Error(), "toml: ")
			}
		}
	}
	return "", ""
}

// field is one leaf key of Config.
type field struct {
	key string        // "server.listen"
	env string        // "GATEHOUSE_SERVER_LISTEN"
	v   reflect.Value // settable when built from a pointer
}

// fields lists every key of c in declaration order, by reflecting over the
// toml tags, so that a new key is automatically overridable and validated
// for documentation.
func fields(c *Config) []field {
	var out []field
	root := reflect.ValueOf(c).Elem()
	for i := 0; i < root.NumField(); i++ {
		sec := tagName(root.Type().Field(i))
		sv := root.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			k := tagName(sv.Type().Field(j))
			if k == "" || !sv.Type().Field(j).IsExported() {
				continue
			}
			out = append(out, field{
				key: sec + "." + k,
				env: envPrefix + strings.ToUpper(sec+"_"+k),
				v:   sv.Field(j),
			})
		}
	}
	return out
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// expectedKind describes the TOML value a key takes, for error messages.
func expectedKind(key string) string {
	var c Config
	for _, f := range fields(&c) {
		if f.key == key {
			return kindOf(f.v)
		}
	}
	for _, f := range fields(&c) {
		if sec, _, _ := strings.Cut(f.key, "."); sec == key {
			return "a table"
		}
	}
	return "another type"
}

var durationType = reflect.TypeFor[Duration]()

func kindOf(v reflect.Value) string {
	if v.Type() == durationType {
		return `a duration string such as "90s"`
	}
	switch v.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Slice:
		return "an array of strings"
	}
	return v.Type().String()
}

// applyEnv applies GATEHOUSE_<SECTION>_<KEY> variables to c and returns
// the keys set, mapped to the variable that set them.
func applyEnv(c *Config, getenv func(string) string) (map[string]string, error) {
	set := map[string]string{}
	var errs []string
	for _, f := range fields(c) {
		s := getenv(f.env)
		if s == "" {
			continue
		}
		if err := setFromString(f.v, s); err != nil {
			errs = append(errs, fmt.Sprintf("environment variable %s: %v (for %s)", f.env, err, f.key))
			continue
		}
		set[f.key] = f.env
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return set, nil
}

// setFromString parses s into v according to v's type.
func setFromString(v reflect.Value, s string) error {
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s))
	}
	t := strings.TrimSpace(s)
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return fmt.Errorf("invalid boolean %q: use true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(t, 10, v.Type().Bits())
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("integer %q out of range", s)
			}
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(t, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid non-negative integer %q", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(t, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		v.SetFloat(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s", v.Type())
		}
		list := []string{}
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// fieldErrors is several FieldErrors reported together.
type fieldErrors []*FieldError

func (e fieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e fieldErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, fe := range e {
		out[i] = fe
	}
	return out
}

func joinFieldErrors(errs []*FieldError) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fieldErrors(errs)
}
