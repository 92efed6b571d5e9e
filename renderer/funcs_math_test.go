package renderer

import "testing"

func TestMathFuncs(t *testing.T) {
	runHelperCases(t, []helperCase{
		// The piped value is the last argument and the left operand.
		{name: "subtract reversed", tmpl: `{{ 10 | subtract 2 }}`, want: "8"},
		{name: "subtract call form", tmpl: `{{ subtract 2 10 }}`, want: "8"},
		{name: "add", tmpl: `{{ 2 | add 2 }}`, want: "4"},
		{name: "multiply", tmpl: `{{ 2 | multiply 3 }}`, want: "6"},
		{name: "divide int truncates", tmpl: `{{ 10 | divide 3 }}`, want: "3"},
		{name: "divide negative truncates toward zero", tmpl: `{{ -7 | divide 2 }}`, want: "-3"},
		{name: "modulo", tmpl: `{{ 10 | modulo 3 }}`, want: "1"},
		{name: "modulo negative", tmpl: `{{ -7 | modulo 3 }}`, want: "-1"},
		{name: "minimum", tmpl: `{{ 3 | minimum 2 }}`, want: "2"},
		{name: "maximum", tmpl: `{{ 3 | maximum 2 }}`, want: "3"},

		// Mixing kinds: any float makes a float64, printed with %v.
		{name: "add float piped", tmpl: `{{ 2.5 | add 2 }}`, want: "4.5"},
		{name: "add float arg", tmpl: `{{ 2 | add 2.5 }}`, want: "4.5"},
		{name: "float sum is whole", tmpl: `{{ 1.5 | add 1.5 }}`, want: "3"},
		{name: "float million prints with exponent", tmpl: `{{ 1000000 | multiply 1.0 }}`, want: "1e+06"},
		{name: "large float", tmpl: `{{ 1e21 | multiply 1 }}`, want: "1e+21"},
		{name: "divide int by float", tmpl: `{{ 10 | divide 4.0 }}`, want: "2.5"},
		{name: "result types", tmpl: `{{ 1 | add 1 | printf "%T" }} {{ 1.5 | add 1 | printf "%T" }} {{ parseUint "1" | add (parseUint "1") | printf "%T" }} {{ parseUint "1" | add 1 | printf "%T" }}`, want: "int64 float64 uint64 int64"},
		{name: "uint minus uint wraps", tmpl: `{{ parseUint "5" | subtract (parseUint "7") }}`, want: "18446744073709551614"},
		{name: "uint plus int", tmpl: `{{ parseUint "5" | add 3 }}`, want: "8"},
		{name: "parseJSON numbers are floats", tmpl: `{{ (parseJSON "{\"a\":1}").a | add 1 }} {{ (parseJSON "{\"a\":1}").a | add 1 | printf "%T" }}`, want: "2 float64"},

		// Division by zero: an error for integers, IEEE values for floats.
		{name: "divide by int zero", tmpl: `{{ 10 | divide 0 }}`, wantErr: "error calling divide: runtime error: integer divide by zero"},
		{name: "divide uint by zero", tmpl: `{{ parseUint "1" | divide (parseUint "0") }}`, wantErr: "error calling divide: runtime error: integer divide by zero"},
		{name: "modulo by zero", tmpl: `{{ 10 | modulo 0 }}`, wantErr: "error calling modulo: runtime error: integer divide by zero"},
		{name: "divide float by zero", tmpl: `{{ 10.0 | divide 0 }}`, want: "+Inf"},
		{name: "divide negative float by zero", tmpl: `{{ -10.0 | divide 0 }}`, want: "-Inf"},
		{name: "zero over zero", tmpl: `{{ 0.0 | divide 0.0 }}`, want: "NaN"},

		// Modulo takes no floats; the piped value is checked first.
		{name: "modulo float piped", tmpl: `{{ 10.5 | modulo 3 }}`, wantErr: "error calling modulo: modulo: unknown type for %!q(float64=10.5) (float64)"},
		{name: "modulo float arg", tmpl: `{{ 10 | modulo 3.5 }}`, wantErr: "error calling modulo: modulo: unknown type for %!q(float64=3.5) (float64)"},
		{name: "add string piped", tmpl: `{{ "a" | add 1 }}`, wantErr: `error calling add: add: unknown type for "a" (string)`},
		{name: "add string arg", tmpl: `{{ 1 | add "a" }}`, wantErr: `error calling add: add: unknown type for "a" (string)`},
		{name: "both bad names the piped one", tmpl: `{{ "a" | multiply "b" }}`, wantErr: `error calling multiply: multiply: unknown type for "a" (string)`},
		{name: "add nil", tmpl: `{{ add 1 nil }}`, wantErr: "error calling add: add: unknown type for <invalid reflect.Value> (<nil>)"},
		{name: "subtract bool", tmpl: `{{ true | subtract 1 }}`, wantErr: "error calling subtract: subtract: unknown type for %!q(bool=true) (bool)"},

		// minimum and maximum keep the winner's own kind; ties go to the
		// argument, not the piped value.
		{name: "minimum float wins", tmpl: `{{ 2.5 | minimum 3 }}`, want: "2.5"},
		{name: "minimum int wins over float", tmpl: `{{ printf "%T" (3.5 | minimum 3) }}`, want: "int64"},
		{name: "maximum tie returns argument", tmpl: `{{ printf "%T" (3 | maximum 3.0) }} {{ printf "%T" (3.0 | maximum 3) }}`, want: "float64 int64"},
		{name: "minimum int and uint", tmpl: `{{ parseUint "5" | minimum -1 }} {{ -1 | minimum (parseUint "5") }}`, want: "-1 -1"},
		{name: "minimum uints", tmpl: `{{ parseUint "5" | minimum (parseUint "7") }}`, want: "5"},
		{name: "maximum uints", tmpl: `{{ parseUint "5" | maximum (parseUint "7") }}`, want: "7"},
		{name: "minimum string", tmpl: `{{ "a" | minimum 1 }}`, wantErr: `error calling minimum: minimum: unknown type for "a" (string)`},
		{name: "maximum string", tmpl: `{{ 1 | maximum "b" }}`, wantErr: `error calling maximum: maximum: unknown type for "b" (string)`},
	})
}
