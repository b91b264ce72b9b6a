#pragma once
// A port of Go's text/tabwriter (the elastic-tabstops filter docker's CLI prints its tables
// through). Semantics follow Go exactly: cells are *terminated* by '\t' (or '\v'), so a line's last
// cell is not part of any column; a column is a run of consecutive lines that all have a cell in it,
// so a line with fewer cells ends the column block; a column's width is
// max(minwidth, widest cell + padding). Widths count Unicode code points, as Go's stdlib does.
//
// Not thread-safe; one writer per rendering.

#include <string>
#include <string_view>
#include <vector>

namespace berth::format {

class TabWriter {
 public:
  // Formatting flags, with Go's values.
  enum Flag : unsigned {
    kFilterHTML = 1u << 0,           // HTML tags have width 0, entities width 1
    kStripEscape = 1u << 1,          // drop the kEscape bytes bracketing escaped text
    kAlignRight = 1u << 2,           // right-align cell contents
    kDiscardEmptyColumns = 1u << 3,  // columns of empty '\v'-terminated cells vanish
    kTabIndent = 1u << 4,            // pad leading empty cells with tabs whatever padchar is
    kDebug = 1u << 5,                // print '|' between columns
  };
  // Brackets a segment that must pass through unformatted (tabs inside do not end cells).
  static constexpr char kEscape = '\xff';

  // minwidth: minimal cell width including padding; tabwidth: width of a '\t' when padchar is
  // '\t'; padding: added to the widest cell of a column. Negative values are a caller bug.
  TabWriter(int minwidth, int tabwidth, int padding, char padchar, unsigned flags);

  // Buffers text; a '\n' that ends a one-cell line (or a '\f') lets everything so far be formatted.
  void Write(std::string_view text);
  // Formats whatever is buffered (an unterminated last line is written as is, without a newline)
  // and returns all output produced since the previous Flush.
  std::string Flush();

 private:
  struct Cell {
    int size = 0;       // bytes in buf_
    int width = 0;      // display width (code points, minus ignored sections)
    bool htab = false;  // terminated by '\t' rather than '\v'
  };

  void Reset();
  void AddLine();
  void Append(std::string_view text);
  void UpdateWidth();
  void StartEscape(char ch);
  void EndEscape();
  int TerminateCell(bool htab);
  void FlushInternal();
  size_t Format(size_t pos0, size_t line0, size_t line1);
  size_t WriteLines(size_t pos0, size_t line0, size_t line1);
  void WritePadding(int textw, int cellw, bool use_tabs);

  int minwidth_;
  int tabwidth_;
  int padding_;
  char padchar_;
  unsigned flags_;

  std::string buf_;        // cell text without the tabs and line breaks
  size_t pos_ = 0;         // buf_ offset up to which cell_.width has been computed
  Cell cell_;              // the current, unterminated cell
  char end_char_ = 0;      // closing char of the escaped segment we are in, or 0
  std::vector<std::vector<Cell>> lines_;
  std::vector<int> widths_;  // column widths of the enclosing blocks during Format
  std::string out_;
};

}  // namespace berth::format
