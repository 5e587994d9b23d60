package fetch

import "testing"

// TestDecodeError: the code is read from every shape a page or a proxy
// sends, and an unknown shape never fails.
func TestDecodeError(t *testing.T) {
	for _, tt := range []struct {
		name, body, code, message string
	}{
		{"NumberCode", `{"error":{"code":50001,"message":"Process not found"}}`, "50001", "Process not found"},
		{"StringCode", `{"error":{"code":"50001","description":"Processo não encontrado"}}`, "50001", "Processo não encontrado"},
		{"StringCodeSpaces", `{"error":{"code":" 50001 ","message":"x"}}`, "50001", "x"},
		{"FloatCode", `{"error":{"code":50001.0,"message":"x"}}`, "50001", "x"},
		{"ExponentCode", `{"error":{"code":5.0001e4,"message":"x"}}`, "50001", "x"},
		{"FloatStringCode", `{"error":{"code":"50001.0","message":"x"}}`, "50001", "x"},
		{"FractionalCode", `{"error":{"code":50001.5,"message":"x"}}`, "50001.5", "x"},
		{"HugeCode", `{"error":{"code":1e400}}`, "1e400", ""},
		{"BigFloatCode", `{"error":{"code":9007199254740993.00}}`, "9007199254740993", ""},
		{"WordCode", `{"error":{"code":"E_NOT_FOUND"}}`, "E_NOT_FOUND", ""},
		{"ObjectCode", `{"error":{"code":{"value":50001},"message":"x"}}`, "50001", "x"},
		{"ListCode", `{"error":{"code":[50001],"message":"x"}}`, "50001", "x"},
		{"BoolCode", `{"error":{"code":true,"message":"x"}}`, "", "x"},
		{"NullCode", `{"code":50001,"error":{"code":null,"message":"x"}}`, "50001", "x"},
		{"ObjectMessage", `{"error":{"code":50001,"message":{"pt":"não","en":"no"}}}`, "50001", `{"pt":"não","en":"no"}`},
		{"ObjectMessageWithText", `{"error":{"code":50001,"message":{"message":"nested"}}}`, "50001", "nested"},
		{"NumberMessage", `{"error":{"code":50001,"message":42}}`, "50001", "42"},
		{"ListMessage", `{"error":{"code":50001,"message":["a","b"]}}`, "50001", `["a","b"]`},
		{"TopLevel", `{"code":"99999","message":"down"}`, "99999", "down"},
		{"TopLevelUpperCase", `{"Code":99999,"Message":"down"}`, "99999", "down"},
		{"ErrorString", `{"error":"server_error"}`, "", "server_error"},
		{"ErrorNumber", `{"error":503}`, "", "503"},
		{"ErrorsList", `{"errors":[{"code":50001,"message":"gone"},{"code":1}]}`, "50001", "gone"},
		{"DeepCode", `{"error":{"code":{"code":{"code":{"code":{"code":{"code":1}}}}}}}`, "", ""},
		{"NotJSON", `<html>502</html>`, "", ""},
		{"NotAnObject", `[{"code":50001}]`, "", ""},
		{"Empty", ``, "", ""},
		{"Truncated", `{"error":{"code":50001,`, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, message := decodeError([]byte(tt.body))
			if code != tt.code || message != tt.message {
				t.Fatalf("decodeError(%s) = %q, %q; want %q, %q", tt.body, code, message, tt.code, tt.message)
			}
		})
	}
}

// TestScrubber: secrets are replaced; a value too short to be a secret is
// left alone rather than garbling the message.
func TestScrubber(t *testing.T) {
	for _, tt := range []struct {
		name    string
		secrets []string
		in, out string
	}{
		{"Secret", []string{"s3cret-key"}, "bad key s3cret-key!", "bad key [redacted]!"},
		{"Twice", []string{"s3cret-key", "tok-12345678"}, "s3cret-key tok-12345678 s3cret-key", "[redacted] [redacted] [redacted]"},
		{"EightBytes", []string{"abcdefgh"}, "xabcdefghx", "x[redacted]x"},
		{"TooShort", []string{"a", "ta", "abcdefg"}, "a table abcdefg", "a table abcdefg"},
		{"Empty", []string{""}, "anything", "anything"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := scrubber(tt.secrets...)(tt.in); got != tt.out {
				t.Fatalf("scrub(%q) = %q, want %q", tt.in, got, tt.out)
			}
		})
	}
}

func TestEnvironmentOf(t *testing.T) {
	for root, want := range map[string]string{
		"https://api.id.unico.app":     "production",
		"https://api.id.unico.app/":    "production",
		"https://api.id.uat.unico.app": "sandbox",
		"http://127.0.0.1:8080":        "custom",
		"https://api.id.unico.app/v2":  "custom",
	} {
		if got := EnvironmentOf(root); got != want {
			t.Errorf("EnvironmentOf(%q) = %q, want %q", root, got, want)
		}
	}
}
