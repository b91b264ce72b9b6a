// Expected strings are Go's text/template output for the same template and data (decoded JSON),
// except where template.h documents a docker-compatible deviation (null as a nil map, ints).

#include "cli/format/template.h"

#include <gtest/gtest.h>

#include <chrono>

namespace berth::format {
namespace {

using nlohmann::json;

// Parses and executes; a failure becomes "ERROR: <message>" so expectations can show it.
std::string Render(std::string_view tmpl, const json& dot = json::object()) {
  auto t = Template::Parse(tmpl);
  if (!t.ok()) return "PARSE ERROR: " + std::string(t.status().message());
  auto out = t->Execute(dot);
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

std::string ParseError(std::string_view tmpl) {
  auto t = Template::Parse(tmpl);
  if (t.ok()) return "parsed fine";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(t.status().message());
}

const json& Container() {
  static const json c = json::parse(R"({
    "Id": "0123456789abcdef0123",
    "Name": "/web",
    "State": {"Status": "running", "Running": true, "ExitCode": 0, "Pid": 4242, "Health": null},
    "Config": {"Image": "busybox:latest", "Cmd": ["sh", "-c", "a<b && c>d"],
               "Labels": {"a.b": "dotted", "com.example": "x", "empty": ""}, "Env": null},
    "NetworkSettings": {
      "IPAddress": "172.17.0.2",
      "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
      "Networks": {"bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"},
                   "mynet": {"IPAddress": "10.0.0.5", "Gateway": "10.0.0.1"}}
    },
    "Containers": {"c1": {}, "c2": {}, "c3": {}},
    "List": ["a", "b"],
    "Nums": [1, 2, 3, 4],
    "Empty": [],
    "F": 1000000.0,
    "Half": 2.5,
    "Mixed": [null, 1, "s", true]
  })");
  return c;
}

// --- The docker cases -----------------------------------------------------------------------

TEST(TemplateTest, DockerInspectFields) {
  EXPECT_EQ(Render("{{.NetworkSettings.IPAddress}}", Container()), "172.17.0.2");
  EXPECT_EQ(Render("{{.State.Pid}} {{.State.Running}}", Container()), "4242 true");
  EXPECT_EQ(Render("{{ .Config.Image }}", Container()), "busybox:latest");
}

TEST(TemplateTest, DockerRangeOverNetworks) {
  EXPECT_EQ(Render("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", Container()),
            "172.17.0.2 10.0.0.5 ");
}

TEST(TemplateTest, DockerJsonOfNetworks) {
  EXPECT_EQ(Render("{{json .NetworkSettings.Networks}}", Container()),
            R"({"bridge":{"Gateway":"172.17.0.1","IPAddress":"172.17.0.2"},)"
            R"("mynet":{"Gateway":"10.0.0.1","IPAddress":"10.0.0.5"}})");
}

TEST(TemplateTest, DockerLenAndIndex) {
  EXPECT_EQ(Render("{{len .Containers}}", Container()), "3");
  EXPECT_EQ(Render("{{len .Config.Cmd}} {{len .Name}}", Container()), "3 4");
  EXPECT_EQ(Render(R"({{index .Config.Labels "a.b"}})", Container()), "dotted");
  EXPECT_EQ(Render(R"({{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}})", Container()), "8080");
  EXPECT_EQ(Render("{{index .Config.Cmd 1}}", Container()), "-c");
}

TEST(TemplateTest, DockerRangeOverMapWithKeyAndValue) {
  EXPECT_EQ(Render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", Container()),
            "a.b=dotted;com.example=x;empty=;");
  EXPECT_EQ(Render("{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}",
                Container()),
            "80/tcp -> 8080");
}

// --- Fields and missing values --------------------------------------------------------------

TEST(TemplateTest, MissingKeysPrintNoValue) {
  EXPECT_EQ(Render("{{.Nope}}", Container()), "<no value>");
  EXPECT_EQ(Render("{{.Nope.Deeper}}", Container()), "<no value>");
  EXPECT_EQ(Render(R"({{index .Config.Labels "missing"}})", Container()), "<no value>");
  // Go digs a nil interface{} out of a pipeline stage: a JSON null prints <no value> too.
  EXPECT_EQ(Render("{{.State.Health}}", Container()), "<no value>");
  // Docker-compatible: a field of null is a nil map's field.
  EXPECT_EQ(Render("{{.State.Health.Status}}", Container()), "<no value>");
}

TEST(TemplateTest, DotAndRoot) {
  EXPECT_EQ(Render("{{.}}", json("plain")), "plain");
  EXPECT_EQ(Render("{{with .Config}}{{$.Name}} {{.Image}}{{end}}", Container()), "/web busybox:latest");
}

// --- Printing ---------------------------------------------------------------------------------

TEST(TemplateTest, PrintsValuesLikeGoFmt) {
  EXPECT_EQ(Render("{{.List}}", Container()), "[a b]");
  EXPECT_EQ(Render("{{.Config.Labels}}", Container()), "map[a.b:dotted com.example:x empty:]");
  EXPECT_EQ(Render("{{.F}} {{.Half}} {{.State.ExitCode}}", Container()), "1e+06 2.5 0");
  EXPECT_EQ(Render("{{.Mixed}}", Container()), "[<nil> 1 s true]");
  EXPECT_EQ(Render("{{.Empty}} {{.Containers.c1}}", Container()), "[] map[]");
  EXPECT_EQ(Render("{{.}}", json(123456.0)), "123456");
  EXPECT_EQ(Render("{{.}}", json(0.000012345)), "1.2345e-05");
  EXPECT_EQ(Render("{{.}}", json(-7)), "-7");
}

TEST(TemplateTest, GoValueStringAndGoJson) {
  EXPECT_EQ(GoValueString(json::parse(R"({"b":[1,2.5],"a":{"x":null}})")), "map[a:map[x:<nil>] b:[1 2.5]]");
  EXPECT_EQ(GoJson(json::parse(R"({"f":1e21,"g":1e-7,"h":0.5,"i":1000000.0,"j":-0.0001})")),
            R"({"f":1e+21,"g":1e-7,"h":0.5,"i":1000000,"j":-0.0001})");
  // docker's json function does not HTML-escape (SetEscapeHTML(false)); controls are escaped.
  EXPECT_EQ(GoJson(json("a<b>&\"\\\n\t\x01\xE2\x80\xA8")), R"("a<b>&\"\\\n\t\u0001\u2028")");
  EXPECT_EQ(GoJson(json("bad\xff")), R"("bad\ufffd")");
}

TEST(TemplateTest, JsonFunction) {
  EXPECT_EQ(Render("{{json .Config.Cmd}}", Container()), R"(["sh","-c","a<b && c>d"])");
  EXPECT_EQ(Render("{{json .State.Health}} {{json .Nope}} {{json .State.Running}}", Container()), "null null true");
}

// --- Text, literals, comments, trimming -------------------------------------------------------

TEST(TemplateTest, TextLiteralsAndComments) {
  EXPECT_EQ(Render("plain text"), "plain text");
  EXPECT_EQ(Render(R"({{"a\tb\u00e9"}})"), "a\tb\xC3\xA9");
  EXPECT_EQ(Render("{{`raw\\n`}}"), "raw\\n");
  EXPECT_EQ(Render("{{1.5}} {{0x10}} {{'a'}} {{true}} {{-3}} {{1_000}} {{3.0}}"), "1.5 16 97 true -3 1000 3");
  EXPECT_EQ(Render("a{{/* a comment */}}b"), "ab");
  EXPECT_EQ(Render("a  {{- /* trimmed */ -}}  \n b"), "ab");
  EXPECT_EQ(Render("x {{- 3 -}} y"), "x3y");
  EXPECT_EQ(Render("x {{-3}} y"), "x -3 y");  // "-3" without a space is a number, not a trim marker
  EXPECT_EQ(Render("{{range .List}}\n  {{- .}}\n{{- end}}", Container()), "ab");
}

// --- Control structures --------------------------------------------------------------------

TEST(TemplateTest, IfElseChains) {
  const std::string t = R"({{if eq .State.Status "running"}}up{{else if eq .State.Status "exited"}}down{{else}}?{{end}})";
  EXPECT_EQ(Render(t, Container()), "up");
  EXPECT_EQ(Render(t, json::parse(R"({"State":{"Status":"exited"}})")), "down");
  EXPECT_EQ(Render(t, json::parse(R"({"State":{"Status":"paused"}})")), "?");
}

TEST(TemplateTest, GoTruthiness) {
  const std::string t = "{{if .}}T{{else}}F{{end}}";
  EXPECT_EQ(Render(t, json(false)), "F");
  EXPECT_EQ(Render(t, json(0)), "F");
  EXPECT_EQ(Render(t, json(0.0)), "F");
  EXPECT_EQ(Render(t, json("")), "F");
  EXPECT_EQ(Render(t, json(nullptr)), "F");
  EXPECT_EQ(Render(t, json::array()), "F");
  EXPECT_EQ(Render(t, json::object()), "F");
  EXPECT_EQ(Render(t, json(true)), "T");
  EXPECT_EQ(Render(t, json(-1)), "T");
  EXPECT_EQ(Render(t, json("0")), "T");
  EXPECT_EQ(Render(t, json::array({0})), "T");
}

TEST(TemplateTest, WithAndElseWith) {
  EXPECT_EQ(Render("{{with .Config}}{{.Image}}{{else}}none{{end}}", Container()), "busybox:latest");
  EXPECT_EQ(Render("{{with .Nope}}{{.}}{{else with .Name}}{{.}}{{end}}", Container()), "/web");
  EXPECT_EQ(Render("{{with .Empty}}x{{else}}none{{end}}", Container()), "none");
}

TEST(TemplateTest, RangeForms) {
  EXPECT_EQ(Render("{{range .Empty}}x{{else}}empty{{end}}", Container()), "empty");
  EXPECT_EQ(Render("{{range .Config.Env}}x{{else}}no env{{end}}", Container()), "no env");  // null: no iterations
  EXPECT_EQ(Render("{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}", Container()), "0:a 1:b ");
  EXPECT_EQ(Render("{{range $e := .List}}<{{$e}}>{{end}}", Container()), "<a><b>");
  EXPECT_EQ(Render("{{range .Nums}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", Container()), "12");
  EXPECT_EQ(Render("{{range .Nums}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", Container()), "134");
  EXPECT_EQ(Render("{{range 3}}{{.}}{{end}}"), "012");
  EXPECT_EQ(Render("{{range .List}}{{$.Name}}{{end}}", Container()), "/web/web");
}

TEST(TemplateTest, Variables) {
  EXPECT_EQ(Render("{{$x := .Name}}{{$x}}-{{$.Config.Image}}", Container()), "/web-busybox:latest");
  EXPECT_EQ(Render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}"), "2");
  EXPECT_EQ(Render("{{$c := .Config}}{{$c.Image}}", Container()), "busybox:latest");
  EXPECT_EQ(Render("{{$n := 0}}{{range .Nums}}{{$n = .}}{{end}}{{$n}}", Container()), "4");
}

TEST(TemplateTest, PipelinesAndParentheses) {
  EXPECT_EQ(Render(R"({{.Name | printf "%q"}})", Container()), "\"/web\"");
  EXPECT_EQ(Render(R"({{.Config.Image | upper | printf "%s!"}})", Container()), "BUSYBOX:LATEST!");
  EXPECT_EQ(Render(R"({{len (split .Config.Image ":")}})", Container()), "2");
  EXPECT_EQ(Render(R"({{(split .Config.Image ":") | len}})", Container()), "2");
  EXPECT_EQ(Render("{{$x := 3}}{{$x}}"), "3");
}

// --- Functions -------------------------------------------------------------------------------

TEST(TemplateTest, PrintFunctions) {
  EXPECT_EQ(Render(R"({{print 1 2 "a" 3 "b" "c"}})"), "1 2a3bc");
  EXPECT_EQ(Render(R"({{println 1 "a" nil}})"), "1 a <nil>\n");
  EXPECT_EQ(Render("{{print .Nope}}", Container()), "<nil>");
}

TEST(TemplateTest, Printf) {
  EXPECT_EQ(Render(R"({{printf "%5s|%-5s|%05d|%x|%X|%.2f|%v|%q|%d" "ab" "cd" 42 255 "hi" 3.14159 .List "x" "s"}})",
                Container()),
            R"(   ab|cd   |00042|ff|6869|3.14|[a b]|"x"|%!d(string=s))");
  EXPECT_EQ(Render(R"({{printf "%d %d" 1}})"), "1 %!d(MISSING)");
  EXPECT_EQ(Render(R"({{printf "%d" 1 "x"}})"), "1%!(EXTRA string=x)");
  EXPECT_EQ(Render(R"({{printf "%6.2f|%e|%g|%v" 3.14159 1234.5678 0.000012345 1e6}})"), "  3.14|1.234568e+03|1.2345e-05|1e+06");
  EXPECT_EQ(Render(R"({{printf "%t %v %s" true nil nil}})"), "true <nil> %!s(<nil>)");
  EXPECT_EQ(Render(R"({{printf "%+d|% d|%#x|%o|%b|%c|%U|%x" 5 5 255 8 5 65 65 -255}})"), "+5| 5|0xff|10|101|A|U+0041|-ff");
  EXPECT_EQ(Render(R"({{printf "%.3s|%8.3f|%-8d|%%|%T" "abcdef" 2.0 7 .List}})", Container()),
            "abc|   2.000|7       |%|[]interface {}");
  EXPECT_EQ(Render(R"({{printf "%d" .F}})", Container()), "%!d(float64=1e+06)");
  EXPECT_EQ(Render(R"({{printf "%s" .Nums}})", Container()), "[%!s(int=1) %!s(int=2) %!s(int=3) %!s(int=4)]");
  EXPECT_EQ(Render(R"({{printf "%*d|%-*d|" 4 1 3 2}})"), "   1|2  |");
}

TEST(TemplateTest, DockerStringFunctions) {
  EXPECT_EQ(Render(R"({{join .List ", "}})", Container()), "a, b");
  EXPECT_EQ(Render(R"({{split "a:b:c" ":"}})"), "[a b c]");
  EXPECT_EQ(Render(R"({{lower "ABC"}} {{upper "abc"}} {{title "hello wide-world it's"}})"), "abc ABC Hello Wide-World It'S");
  EXPECT_EQ(Render("{{truncate .Id 12}}", Container()), "0123456789ab");
  EXPECT_EQ(Render(R"({{truncate "short" 12}})"), "short");
  EXPECT_EQ(Render(R"([{{pad "x" 2 3}}][{{pad "" 2 3}}])"), "[  x   ][]");
  EXPECT_EQ(Render(R"({{html "<a href='x'>&</a>"}} {{urlquery "a b&c"}} {{js "it's <b>"}})"),
            R"(&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; a+b%26c it\'s \u003Cb\u003E)");
}

TEST(TemplateTest, LogicAndComparison) {
  EXPECT_EQ(Render(R"({{or .Nope "default"}})", Container()), "default");
  EXPECT_EQ(Render(R"({{or .Name "default"}})", Container()), "/web");
  EXPECT_EQ(Render("{{and 1 0 2}} {{and 1 2}} {{not \"\"}} {{not 1}}"), "0 2 true false");
  // and stops at the first false argument: the failing index is never evaluated.
  EXPECT_EQ(Render("{{and false (index .List 9)}}", Container()), "false");
  EXPECT_EQ(Render(R"({{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{ne "a" "b"}})"), "true true true false true");
  EXPECT_EQ(Render("{{eq .State.ExitCode 0}} {{eq 1.0 1}} {{eq 2 1 3 2}}", Container()), "true true true");
  EXPECT_EQ(Render("{{eq .Nope nil}} {{eq .Name nil}}", Container()), "true false");
  EXPECT_EQ(Render(R"({{slice "abcdef" 1 3}} {{slice .Nums 2}} {{slice .Nums 1 2}})", Container()), "bc [3 4] [2]");
  EXPECT_EQ(Render(R"({{index "abc" 1}})"), "98");  // a string's element is a byte
}

TEST(TemplateTest, NullIsANilCollection) {
  EXPECT_EQ(Render("{{len .Config.Env}}", Container()), "0");
  EXPECT_EQ(Render(R"({{index .Config.Env "x"}})", Container()), "<no value>");
}

// --- Errors ----------------------------------------------------------------------------------

TEST(TemplateTest, SyntaxErrorsHaveGoMessages) {
  EXPECT_EQ(ParseError("{{.Name}"), R"(template: :1: unexpected "}" in operand)");
  EXPECT_EQ(ParseError("{{if .A}}x"), "template: :1: unexpected EOF");
  EXPECT_EQ(ParseError("x{{end}}"), "template: :1: unexpected {{end}}");
  EXPECT_EQ(ParseError("{{else}}"), "template: :1: unexpected {{else}}");
  EXPECT_EQ(ParseError("{{.A"), "template: :1: unclosed action");
  EXPECT_EQ(ParseError("{{nosuch .A}}"), R"(template: :1: function "nosuch" not defined)");
  EXPECT_EQ(ParseError("{{$x}}"), R"(template: :1: undefined variable "$x")");
  EXPECT_EQ(ParseError("{{range}}{{end}}"), "template: :1: missing value for range");
  EXPECT_EQ(ParseError("{{}}"), "template: :1: missing value for command");
  EXPECT_EQ(ParseError("{{/* x }}"), "template: :1: unclosed comment");
  EXPECT_EQ(ParseError("{{break}}"), "template: :1: {{break}} outside {{range}}");
  EXPECT_EQ(ParseError("{{.A | 3}}"), "template: :1: non executable command in pipeline stage 2");
  EXPECT_EQ(ParseError("a\nb\n{{if}}"), "template: :3: missing value for if");
  EXPECT_EQ(ParseError(R"({{"abc}})"), "template: :1: unterminated quoted string");
  EXPECT_EQ(ParseError("{{3x}}"), R"(template: :1: bad number syntax: "3x")");
  EXPECT_EQ(ParseError("{{.A.}}"), "template: :1: unexpected <.> in operand");
  EXPECT_EQ(ParseError("{{(.A}}"), "template: :1: unclosed left paren");
  EXPECT_EQ(ParseError("{{.A)}}"), R"x(template: :1: unexpected ")" in command)x");
  EXPECT_EQ(ParseError("{{if .A}}{{else}}{{else}}{{end}}"), "template: :1: expected end; found {{else}}");
  EXPECT_EQ(ParseError("{{range $i, $e, $f := .A}}{{end}}"), "template: :1: too many declarations in range");
  EXPECT_EQ(ParseError(R"({{"a".B}})"), R"(template: :1: unexpected . after term "\"a\"")");
  EXPECT_EQ(ParseError("{{.A #}}"), R"(template: :1: unexpected "#" in operand)");
  EXPECT_EQ(ParseError("{{define \"x\"}}{{end}}"), "template: :1: {{define}} is not supported");
}

TEST(TemplateTest, RuntimeErrorsHaveGoMessages) {
  EXPECT_EQ(Render("{{.Name.First}}", Container()),
            R"(ERROR: template: :1:7: executing "" at <.Name.First>: can't evaluate field First in type string)");
  EXPECT_EQ(Render(R"({{index .Name "x"}})", Container()),
            R"(ERROR: template: :1:2: executing "" at <index .Name "x">: error calling index: cannot index slice/array with type string)");
  EXPECT_EQ(Render("{{index .List 5}}", Container()),
            R"(ERROR: template: :1:2: executing "" at <index .List 5>: error calling index: index out of range: 5)");
  EXPECT_EQ(Render("{{upper 5}}"), R"(ERROR: template: :1:8: executing "" at <5>: wrong type for value; expected string; got int)");
  EXPECT_EQ(Render("{{len 3}}"), R"(ERROR: template: :1:2: executing "" at <len 3>: error calling len: len of type int)");
  EXPECT_EQ(Render("{{join .Nums \",\"}}", Container()),
            R"(ERROR: template: :1:7: executing "" at <.Nums>: wrong type for value; expected []string; got []interface {})");
  EXPECT_EQ(Render(R"({{eq "a" 1}})"), R"(ERROR: template: :1:2: executing "" at <eq "a" 1>: error calling eq: incompatible types for comparison)");
  EXPECT_EQ(Render("{{range .Name}}{{end}}", Container()),
            R"(ERROR: template: :1:8: executing "" at <{{range .Name}}{{end}}>: range can't iterate over /web)");
  EXPECT_EQ(Render("{{.Name 1}}", Container()),
            R"(ERROR: template: :1:2: executing "" at <.Name>: Name is not a method but has arguments)");
  EXPECT_EQ(Render("{{nil}}"), R"(ERROR: template: :1:2: executing "" at <nil>: nil is not a command)");
  EXPECT_EQ(Render("{{upper}}"), R"(ERROR: template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0)");
  EXPECT_EQ(Render("line1\n  {{.Name.X}}", Container()),
            R"(ERROR: template: :2:9: executing "" at <.Name.X>: can't evaluate field X in type string)");
  // The status code is InvalidArgument.
  auto t = Template::Parse("{{len 3}}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->Execute(json::object()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TemplateTest, ExecuteToKeepsOutputBeforeAnError) {
  auto t = Template::Parse("before {{len 3}} after");
  ASSERT_TRUE(t.ok());
  std::string out;
  EXPECT_FALSE(t->ExecuteTo(json::object(), &out).ok());
  EXPECT_EQ(out, "before ");
}

TEST(TemplateTest, TemplateIsReusableAndCopyable) {
  auto t = Template::Parse("{{.N}}");
  ASSERT_TRUE(t.ok());
  Template copy = *t;
  EXPECT_EQ(*copy.Execute(json{{"N", 1}}), "1");
  EXPECT_EQ(*t->Execute(json{{"N", 2}}), "2");
}

// --- bounds (found by test/fuzz/template_fuzz.cc) ----------------------------------------------

// The lexer counted the newlines before every token from the start of the text: quadratic in the
// template's length (a 1 MiB format took minutes). Line numbers must still be right.
TEST(TemplateLimitsTest, LongTemplatesLexInLinearTime) {
  std::string text;
  for (int i = 0; i < 150000; ++i) text += "{{.N}}\n";
  const auto start = std::chrono::steady_clock::now();
  auto t = Template::Parse(text + "{{if}}");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(t.status().message(), "template: :150001: missing value for if");
  EXPECT_EQ(ParseError("{{/* a\nb */}}\n{{.A}}\n{{end}}"), "template: :4: unexpected {{end}}");
}

// 2000 nested parentheses, or a few thousand nested ifs, overflowed the stack: parsing, executing
// and destroying the tree each recurse once per level. Nesting is bounded at 256 levels, counted
// over parentheses and controls (an "else if" nests too).
TEST(TemplateLimitsTest, NestingIsBounded) {
  auto parens = [](int n) { return "{{" + std::string(n, '(') + "1" + std::string(n, ')') + "}}"; };
  auto ifs = [](int n, const std::string& inner) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "{{if 1}}";
    s += inner;
    for (int i = 0; i < n; ++i) s += "{{end}}";
    return s;
  };
  EXPECT_EQ(Render(parens(256)), "1");
  EXPECT_EQ(ParseError(parens(257)), "template: :1: max expression depth exceeded");
  EXPECT_EQ(ParseError(parens(100000)), "template: :1: max expression depth exceeded");
  EXPECT_EQ(Render(ifs(256, "x")), "x");
  EXPECT_EQ(ParseError(ifs(257, "x")), "template: :1: max nesting depth exceeded");
  EXPECT_EQ(ParseError(ifs(20000, "x")), "template: :1: max nesting depth exceeded");
  EXPECT_EQ(Render(ifs(200, parens(56))), "1");
  EXPECT_EQ(ParseError(ifs(200, parens(57))), "template: :1: max expression depth exceeded");
  std::string chain = "{{if 0}}";
  for (int i = 0; i < 255; ++i) chain += "{{else if eq 254 " + std::to_string(i) + "}}" + std::to_string(i);
  EXPECT_EQ(Render(chain + "{{end}}"), "254");
  EXPECT_EQ(ParseError(chain + "{{else if 1}}{{end}}"), "template: :1: max nesting depth exceeded");
}

// {{range 1000000000000}} ran for hours and a loop of wide printfs ran out of memory; an execution
// now stops at its work limit (kDefaultWorkLimit unless given) with an error, keeping the output
// made so far as any run-time error does.
TEST(TemplateLimitsTest, ExecutionStopsAtItsWorkLimit) {
  constexpr uint64_t kLimit = 1000000;
  auto run = [&](std::string_view text, std::string* out) {
    auto t = Template::Parse(text);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->ExecuteTo(Container(), out, Template::Functions::kNormal, kLimit) : t.status();
  };
  std::string out;
  absl::Status st = run("x{{range 1000000000000}}{{end}}", &out);
  EXPECT_EQ(std::string(st.message()),
            "template: :1:9: executing \"\" at <{{range 1000000000000}}{{end}}>: execution stopped: "
            "the template's work limit (1000000 steps and bytes) is exceeded");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "x");
  out.clear();
  EXPECT_FALSE(run(R"({{range 1000}}{{printf "%*d" 100000 1}}{{end}})", &out).ok());
  EXPECT_LE(out.size(), kLimit);
  out.clear();
  std::string many = "{{printf \"";  // one printf of 400 verbs a million wide: stops early
  for (int i = 0; i < 400; ++i) many += "%*d";
  many += "\"";
  for (int i = 0; i < 400; ++i) many += " 1000000 1";
  st = run(many + "}}", &out);
  EXPECT_NE(std::string(st.message()).find("work limit"), std::string::npos) << st;
  EXPECT_EQ(out, "");
  // What a format needs is far below the limit, and the limit holds per item.
  out.clear();
  EXPECT_TRUE(run("{{range 10000}}{{.}}{{end}}{{json .}}{{split .Name \"\"}}", &out).ok());
  auto list = RenderList("{{range 50000}}.{{end}}", json::object(), {json::object(), json::object()}, 400000);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 2 * 50001u);
}

// --- docker's list rendering -----------------------------------------------------------------

TEST(FormatTest, TableFormatDetection) {
  EXPECT_TRUE(IsTableFormat("table {{.Names}}\t{{.Status}}"));
  EXPECT_TRUE(IsTableFormat("table"));
  EXPECT_FALSE(IsTableFormat("{{.Names}}"));
  EXPECT_FALSE(IsTableFormat(" table {{.Names}}"));
  EXPECT_EQ(StripTable("table {{.Names}}\t{{.Status}}"), "{{.Names}}\t{{.Status}}");
  EXPECT_EQ(StripTable("table   {{.Names}} "), "{{.Names}}");
  EXPECT_EQ(StripTable("{{.Names}}"), "{{.Names}}");
}

const json kHeader = json{{"Names", "NAMES"}, {"Status", "STATUS"}, {"ID", "CONTAINER ID"},
                          {"Image", "IMAGE"}, {"Command", "COMMAND"}};
const std::vector<json> kItems = {
    json{{"Names", "web"}, {"Status", "Up 2 minutes"}, {"ID", "abc123def456"}, {"Image", "busybox"},
         {"Command", "\"sh\""}},
    json{{"Names", "database-primary"}, {"Status", "Exited (0)"}, {"ID", "0123456789ab"}, {"Image", "postgres:16"},
         {"Command", "\"docker-entrypoint.s…\""}},
};

TEST(FormatTest, RenderTableWithHeader) {
  // Column 0 is max(10, 16 + 3) = 19 wide.
  auto out = RenderList("table {{.Names}}\t{{.Status}}", kHeader, kItems);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "NAMES              STATUS\n"
            "web                Up 2 minutes\n"
            "database-primary   Exited (0)\n");
  // The same format typed in a shell, with a literal backslash-t.
  auto typed = RenderList(R"(table {{.Names}}\t{{.Status}})", kHeader, kItems);
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ(*typed, *out);
}

TEST(FormatTest, RenderDockerPsLikeTable) {
  auto out = RenderList("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Names}}", kHeader, kItems);
  ASSERT_TRUE(out.ok()) << out.status();
  // "\"docker-entrypoint.s…\"" is 22 code points (24 bytes): the COMMAND column is 22 + 3 wide.
  EXPECT_EQ(*out,
            "CONTAINER ID   IMAGE         COMMAND                  NAMES\n"
            "abc123def456   busybox       \"sh\"                     web\n"
            "0123456789ab   postgres:16   \"docker-entrypoint.s…\"   database-primary\n");
}

TEST(FormatTest, HeaderKeepsTitlesThroughStringFunctions) {
  auto out = RenderList("table {{.Names | upper}}\t{{json .Status}}\t{{truncate .ID 3}}", kHeader, {kItems[0]});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "NAMES     STATUS           CONTAINER ID\n"
            "WEB       \"Up 2 minutes\"   abc\n");
}

TEST(FormatTest, EmptyTableStillPrintsHeader) {
  auto out = RenderList("table {{.Names}}\t{{.Status}}", kHeader, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "NAMES     STATUS\n");
}

TEST(FormatTest, NonTableFormatsBypassTheTabwriter) {
  auto out = RenderList("{{.Names}}\t{{.Status}}", kHeader, kItems);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "web\tUp 2 minutes\ndatabase-primary\tExited (0)\n");
  auto none = RenderList("{{.Names}}", kHeader, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");
}

TEST(FormatTest, JsonFormatIsJsonOfEachItem) {
  auto out = RenderList("json", kHeader, {json{{"Names", "web"}, {"Ports", "0.0.0.0:80->80/tcp"}}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "{\"Names\":\"web\",\"Ports\":\"0.0.0.0:80->80/tcp\"}\n");
}

TEST(FormatTest, ErrorsArePrefixedLikeDockers) {
  auto bad = RenderList("{{.Names", kHeader, kItems);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "template parsing error: template: :1: unclosed action");
  auto run = RenderList("{{.Names.X}}", kHeader, kItems);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().message(),
            R"(template parsing error: template: :1:8: executing "" at <.Names.X>: can't evaluate field X in type string)");
}

}  // namespace
}  // namespace berth::format
