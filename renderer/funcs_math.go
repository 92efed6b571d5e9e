package renderer

import (
	"errors"
	"fmt"
	"reflect"
)

// The math helpers take the piped value last: {{ 10 | subtract 2 }} is
// subtract(2, 10) and computes 10 - 2. Like consul-template they widen every
// int kind to int64, every uint kind to uint64 and every float kind to
// float64; a float on either side makes the result a float64, two uints make
// a uint64, anything else an int64.

// errIntDivideByZero has the text of the runtime panic that consul-template's
// integer division raises; text/template turns that panic into an error with
// exactly this text, so returning it keeps the error message identical.
var errIntDivideByZero = errors.New("runtime error: integer divide by zero")

type numClass int

const (
	numNone numClass = iota
	numInt
	numUint
	numFloat
)

func numClassOf(v reflect.Value, floats bool) numClass {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return numUint
	case reflect.Float32, reflect.Float64:
		if floats {
			return numFloat
		}
	}
	return numNone
}

func numInt64(v reflect.Value, c numClass) int64 {
	if c == numUint {
		return int64(v.Uint())
	}
	return v.Int()
}

func numFloat64(v reflect.Value, c numClass) float64 {
	switch c {
	case numInt:
		return float64(v.Int())
	case numUint:
		return float64(v.Uint())
	}
	return v.Float()
}

// numWiden is v as int64, uint64 or float64.
func numWiden(v reflect.Value, c numClass) any {
	switch c {
	case numInt:
		return v.Int()
	case numUint:
		return v.Uint()
	}
	return v.Float()
}

// arithOps is one operation per result type; f is nil when floats are not
// accepted (modulo).
type arithOps struct {
	i func(a, b int64) (int64, error)
	u func(a, b uint64) (uint64, error)
	f func(a, b float64) float64
}

// numOperands classifies a (the piped value, checked first) and b, and words
// the error the way consul-template does.
func numOperands(name string, b, a any, floats bool) (av, bv reflect.Value, ac, bc numClass, err error) {
	av, bv = reflect.ValueOf(a), reflect.ValueOf(b)
	ac, bc = numClassOf(av, floats), numClassOf(bv, floats)
	if ac == numNone {
		return av, bv, ac, bc, fmt.Errorf("%s: unknown type for %q (%T)", name, av, a)
	}
	if bc == numNone {
		return av, bv, ac, bc, fmt.Errorf("%s: unknown type for %q (%T)", name, bv, b)
	}
	return av, bv, ac, bc, nil
}

func numArith(name string, b, a any, ops arithOps) (any, error) {
	av, bv, ac, bc, err := numOperands(name, b, a, ops.f != nil)
	if err != nil {
		return nil, err
	}
	switch {
	case ac == numFloat || bc == numFloat:
		return ops.f(numFloat64(av, ac), numFloat64(bv, bc)), nil
	case ac == numUint && bc == numUint:
		return ops.u(av.Uint(), bv.Uint())
	default:
		return ops.i(numInt64(av, ac), numInt64(bv, bc))
	}
}

// fnAdd returns a + b.
func fnAdd(b, a any) (any, error) {
	return numArith("add", b, a, arithOps{
		i: func(x, y int64) (int64, error) { return x + y, nil },
		u: func(x, y uint64) (uint64, error) { return x + y, nil },
		f: func(x, y float64) float64 { return x + y },
	})
}

// fnSubtract returns a - b.
func fnSubtract(b, a any) (any, error) {
	return numArith("subtract", b, a, arithOps{
		i: func(x, y int64) (int64, error) { return x - y, nil },
		u: func(x, y uint64) (uint64, error) { return x - y, nil },
		f: func(x, y float64) float64 { return x - y },
	})
}

// fnMultiply returns a * b.
func fnMultiply(b, a any) (any, error) {
	return numArith("multiply", b, a, arithOps{
		i: func(x, y int64) (int64, error) { return x * y, nil },
		u: func(x, y uint64) (uint64, error) { return x * y, nil },
		f: func(x, y float64) float64 { return x * y },
	})
}

// fnDivide returns a / b: integer division for integers (an error for a zero
// divisor), IEEE division (so +Inf, -Inf or NaN) for floats.
func fnDivide(b, a any) (any, error) {
	return numArith("divide", b, a, arithOps{
		i: func(x, y int64) (int64, error) {
			if y == 0 {
				return 0, errIntDivideByZero
			}
			return x / y, nil
		},
		u: func(x, y uint64) (uint64, error) {
			if y == 0 {
				return 0, errIntDivideByZero
			}
			return x / y, nil
		},
		f: func(x, y float64) float64 { return x / y },
	})
}

// fnModulo returns a % b for integers; floats are an unknown type.
func fnModulo(b, a any) (any, error) {
	return numArith("modulo", b, a, arithOps{
		i: func(x, y int64) (int64, error) {
			if y == 0 {
				return 0, errIntDivideByZero
			}
			return x % y, nil
		},
		u: func(x, y uint64) (uint64, error) {
			if y == 0 {
				return 0, errIntDivideByZero
			}
			return x % y, nil
		},
	})
}

// numLess compares a and b the way consul-template's minimum and maximum do:
// as float64 if either is a float, as uint64 if both are uints, otherwise as
// int64 (a uint converted with a plain, wrapping int64()).
func numLess(av, bv reflect.Value, ac, bc numClass) bool {
	switch {
	case ac == numFloat || bc == numFloat:
		return numFloat64(av, ac) < numFloat64(bv, bc)
	case ac == numUint && bc == numUint:
		return av.Uint() < bv.Uint()
	default:
		return numInt64(av, ac) < numInt64(bv, bc)
	}
}

// fnMinimum returns the smaller of a and b, each widened but keeping its own
// kind: {{ 2.5 | minimum 3 }} is the float64 2.5, {{ 3.5 | minimum 3 }} the
// int64 3. On a tie it returns b.
func fnMinimum(b, a any) (any, error) {
	av, bv, ac, bc, err := numOperands("minimum", b, a, true)
	if err != nil {
		return nil, err
	}
	if numLess(av, bv, ac, bc) {
		return numWiden(av, ac), nil
	}
	return numWiden(bv, bc), nil
}

// fnMaximum returns the larger of a and b, like fnMinimum.
func fnMaximum(b, a any) (any, error) {
	av, bv, ac, bc, err := numOperands("maximum", b, a, true)
	if err != nil {
		return nil, err
	}
	if numLess(bv, av, bc, ac) {
		return numWiden(av, ac), nil
	}
	return numWiden(bv, bc), nil
}
