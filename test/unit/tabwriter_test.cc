// Golden strings below were worked out by hand from Go's text/tabwriter algorithm: a column is a
// run of consecutive lines that have a tab-terminated cell in it, its width is
// max(minwidth, widest cell + padding), and a line's last (unterminated) cell is in no column.

#include "cli/format/tabwriter.h"

#include <gtest/gtest.h>

namespace berth::format {
namespace {

std::string Render(int minwidth, int tabwidth, int padding, char padchar, unsigned flags, std::string_view in) {
  TabWriter w(minwidth, tabwidth, padding, padchar, flags);
  w.Write(in);
  return w.Flush();
}

TEST(TabWriterTest, DockerPsHeaderAndRow) {
  // docker's settings: minwidth 10, tabwidth 1, padding 3. "CONTAINER ID" (12) -> 15 wide,
  // "IMAGE"/"busybox" (max 7) -> 10 (minwidth wins over 7+3), "COMMAND" -> 10.
  const std::string out = Render(10, 1, 3, ' ', 0,
                              "CONTAINER ID\tIMAGE\tCOMMAND\tNAMES\n"
                              "abc123def456\tbusybox\t\"sh\"\tweb\n");
  EXPECT_EQ(out,
            "CONTAINER ID   IMAGE     COMMAND   NAMES\n"
            "abc123def456   busybox   \"sh\"      web\n");
}

TEST(TabWriterTest, ShortCellGetsMinwidth) {
  // "ID" is 2 wide; 2 + 3 padding < minwidth 10, so the cell is "ID" plus 8 spaces.
  EXPECT_EQ(Render(10, 1, 3, ' ', 0, "ID\tNAME\n1\tx\n"), "ID        NAME\n1         x\n");
}

TEST(TabWriterTest, ColumnBlocksFollowGoDocExample) {
  // The example of Go's package documentation: b and c are different columns because the line
  // "a\t" has no second column cell, which ends the b block.
  const std::string out = Render(0, 8, 1, '.', 0, "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n");
  EXPECT_EQ(out,
            "aaaa.bbb.d\n"
            "aa...b...dd\n"
            "a....\n"
            "aa...cccc.eee\n");
}

TEST(TabWriterTest, OneCellLineEndsTheBlock) {
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "a\tb\nlonger line\nccc\td\n"), "a.b\nlonger line\nccc.d\n");
}

TEST(TabWriterTest, LastCellIsNotPadded) {
  // Trailing text without a tab is in no column: no padding after it, even if it is long.
  EXPECT_EQ(Render(0, 8, 2, ' ', 0, "k\tvalue-long\nkey\tv\n"), "k    value-long\nkey  v\n");
}

TEST(TabWriterTest, TrailingTabMakesLastColumnAligned) {
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "a\tb\t\nccc\td\t\n"), "a...b.\nccc.d.\n");
}

TEST(TabWriterTest, UnterminatedLastLineIsWrittenWithoutNewline) {
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "x\ty"), "x.y");
}

TEST(TabWriterTest, WritesMayBeSplitAnywhere) {
  TabWriter w(0, 8, 1, '.', 0);
  w.Write("aa");
  w.Write("a\tb");
  w.Write("\nc\t");
  w.Write("d\n");
  EXPECT_EQ(w.Flush(), "aaa.b\nc...d\n");
  // The writer is reusable after Flush.
  w.Write("e\tf\n");
  EXPECT_EQ(w.Flush(), "e.f\n");
}

TEST(TabWriterTest, AlignRight) {
  EXPECT_EQ(Render(0, 8, 1, ' ', TabWriter::kAlignRight, "a\tbbb\tc\naaa\tb\tc\n"), "   a bbbc\n aaa   bc\n");
}

TEST(TabWriterTest, DebugPrintsBars) {
  EXPECT_EQ(Render(0, 8, 1, '.', TabWriter::kDebug, "a\tb\tc\n"), "a.|b.|c\n");
}

TEST(TabWriterTest, TabPaddingRoundsToTabStops) {
  // Column width max(2, 9 + 1) = 10, rounded up to 16: "a" needs 15 columns = 2 tabs.
  EXPECT_EQ(Render(0, 8, 1, '\t', 0, "a\tb\naaaaaaaaa\tc\n"), "a\t\tb\naaaaaaaaa\tc\n");
}

TEST(TabWriterTest, WidthCountsCodePointsNotBytes) {
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "n\xC3\xA9\tx\nab\ty\n"), "n\xC3\xA9.x\nab.y\n");
}

TEST(TabWriterTest, EscapedSegmentsKeepTheirTabs) {
  // The escaped "b\tc" is one cell of width 1 + 3; the Escape bytes count for nothing.
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "a\xff" "b\tc\xff\td\nxx\ty\n"), "a\xff" "b\tc\xff.d\nxx...y\n");
  EXPECT_EQ(Render(0, 8, 1, '.', TabWriter::kStripEscape, "a\xff" "b\tc\xff\td\n"), "ab\tc.d\n");
}

TEST(TabWriterTest, DiscardEmptyColumns) {
  EXPECT_EQ(Render(0, 8, 1, '.', 0, "a\v\vb\nc\v\vd\n"), "a..b\nc..d\n");
  EXPECT_EQ(Render(0, 8, 1, '.', TabWriter::kDiscardEmptyColumns, "a\v\vb\nc\v\vd\n"), "a.b\nc.d\n");
}

TEST(TabWriterTest, FilterHtmlCountsEntitiesAsOneAndTagsAsZero) {
  EXPECT_EQ(Render(0, 8, 1, '.', TabWriter::kFilterHTML, "<b>x</b>\ty\n&amp;\tz\nab\tw\n"),
            "<b>x</b>..y\n&amp;..z\nab.w\n");
}

TEST(TabWriterTest, EmptyInput) { EXPECT_EQ(Render(10, 1, 3, ' ', 0, ""), ""); }

}  // namespace
}  // namespace berth::format
