package policy

import (
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// CEL rules run user expressions inside every gate, so they are bounded: the
// expression's size at compile time and its evaluation cost at run time (a
// comprehension over a large list stops with an error instead of running on).
const (
	// CELCostLimit bounds one expression's evaluation cost (cel-go cost units, about
	// one per operation or list element visited).
	CELCostLimit = 1_000_000
	// MaxCELExprSize bounds an expression's length in code points.
	MaxCELExprSize = 4096
)

type celProgram = cel.Program

type celError struct {
	line, column int // 1-based line, 0-based column inside the expression
	msg          string
}

// celVariables are the names an expression sees: the input document's top-level
// keys, plus metrics and meta as shortcuts for subject.metrics and subject.meta.
func newCELEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("subject", cel.DynType),
		cel.Variable("target_stage", cel.StringType),
		cel.Variable("current_stage", cel.StringType),
		cel.Variable("stage_holder", cel.DynType),
		cel.Variable("approvals", cel.ListType(cel.DynType)),
		cel.Variable("remote_present", cel.DynType),
		cel.Variable("now", cel.StringType),
		cel.Variable("policy_digest", cel.StringType),
		cel.Variable("author", cel.StringType),
		cel.Variable("metrics", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("meta", cel.MapType(cel.StringType, cel.StringType)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxCELExprSize),
	)
}

// compileCEL type-checks expr and plans it with the cost limit.
func (d *decoder) compileCEL(expr string) (cel.Program, []celError) {
	if d.celEnv == nil {
		env, err := newCELEnv()
		if err != nil {
			return nil, []celError{{line: 1, msg: "CEL environment: " + err.Error()}}
		}
		d.celEnv = env
	}
	ast, iss := d.celEnv.Compile(expr)
	if iss != nil && iss.Err() != nil {
		var out []celError
		for _, e := range iss.Errors() {
			out = append(out, celError{line: e.Location.Line(), column: e.Location.Column(), msg: e.Message})
		}
		if len(out) == 0 {
			out = append(out, celError{line: 1, msg: iss.Err().Error()})
		}
		return nil, out
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, []celError{{line: 1, msg: fmt.Sprintf("the expression gives a %s; a rule needs a condition (bool)", t)}}
	}
	prog, err := d.celEnv.Program(ast, cel.CostLimit(CELCostLimit))
	if err != nil {
		return nil, []celError{{line: 1, msg: err.Error()}}
	}
	return prog, nil
}

func (ev *evaluator) cel(s *CELSpec) Result {
	expected := s.Expr + " is true"
	if s.prog == nil {
		return Result{Status: StatusError, Expected: expected, Reason: "the expression was not compiled"}
	}
	doc, err := ev.celInput()
	if err != nil {
		return Result{Status: StatusError, Expected: expected, Reason: "input for CEL: " + err.Error()}
	}
	vars := make(map[string]any, len(doc)+2)
	for k, v := range doc {
		vars[k] = v
	}
	vars["metrics"] = map[string]any{}
	vars["meta"] = map[string]any{}
	if subj, ok := doc["subject"].(map[string]any); ok {
		if m, ok := subj["metrics"].(map[string]any); ok {
			vars["metrics"] = m
		}
		if m, ok := subj["meta"].(map[string]any); ok {
			vars["meta"] = m
		}
	}
	out, _, err := s.prog.Eval(vars)
	if err != nil {
		reason := "CEL evaluation: " + err.Error()
		if strings.Contains(err.Error(), "cost limit exceeded") {
			reason = fmt.Sprintf("CEL cost limit (%d) exceeded: the expression does too much work for a policy rule", CELCostLimit)
		}
		return Result{Status: StatusError, Expected: expected, Reason: reason}
	}
	b, ok := out.(types.Bool)
	if !ok {
		return Result{Status: StatusError, Expected: expected, Observed: fmt.Sprint(out.Value()),
			Reason: fmt.Sprintf("the expression gave %s, not true or false", out.Type().TypeName())}
	}
	if b {
		return pass("true", expected, nil)
	}
	return fail("false", expected, nil)
}

// newMonitorCELEnv: what a cel monitor sees. metrics are the production
// metrics of the observation, training the metrics recorded in the model's
// manifest at training time; model, version and stage name what is watched.
func newMonitorCELEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("metrics", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("training", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("model", cel.StringType),
		cel.Variable("version", cel.StringType),
		cel.Variable("stage", cel.StringType),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxCELExprSize),
	)
}

func (d *decoder) compileMonitorCEL(expr string) (cel.Program, []celError) {
	if d.monitorCELEnv == nil {
		env, err := newMonitorCELEnv()
		if err != nil {
			return nil, []celError{{line: 1, msg: "CEL environment: " + err.Error()}}
		}
		d.monitorCELEnv = env
	}
	saved := d.celEnv
	d.celEnv = d.monitorCELEnv
	defer func() { d.celEnv = saved }()
	return d.compileCEL(expr)
}

// MonitorCELInput is what a cel monitor's expression is evaluated on.
type MonitorCELInput struct {
	Metrics  map[string]float64
	Training map[string]float64
	Model    string
	Version  string
	Stage    string
}

// EvalCEL evaluates a cel monitor. A missing key (metrics.x never observed)
// is an error whose message says "no such key": the caller reports it as no
// data. The cost is bounded by CELCostLimit.
func (m *Monitor) EvalCEL(in MonitorCELInput) (bool, error) {
	if m.prog == nil {
		return false, fmt.Errorf("monitor %q: the expression was not compiled", m.ID)
	}
	toAny := func(x map[string]float64) map[string]any {
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = v
		}
		return out
	}
	out, _, err := m.prog.Eval(map[string]any{
		"metrics": toAny(in.Metrics), "training": toAny(in.Training),
		"model": in.Model, "version": in.Version, "stage": in.Stage,
	})
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return false, fmt.Errorf("CEL cost limit (%d) exceeded", CELCostLimit)
		}
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %s, not true or false", out.Type().TypeName())
	}
	return bool(b), nil
}
