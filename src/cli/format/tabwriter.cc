#include "cli/format/tabwriter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace berth::format {
namespace {

// Go counts a cell's width in runes (utf8.RuneCount): every byte that does not continue a UTF-8
// sequence starts one (an invalid byte counts as one rune too, as in Go).
int RuneWidth(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

TabWriter::TabWriter(int minwidth, int tabwidth, int padding, char padchar, unsigned flags)
    : minwidth_(minwidth), tabwidth_(tabwidth), padding_(padding), padchar_(padchar),
      flags_(flags) {
  // Go panics here too: negative sizes are a caller bug, not input to handle. (BERTH_CHECK is not
  // used because common/status.h does not build against Debian's Abseil yet.)
  if (minwidth < 0 || tabwidth < 0 || padding < 0) {
    std::fprintf(stderr, "tabwriter: negative minwidth, tabwidth or padding\n");
    std::abort();
  }
  // Tab padding forces left alignment: a right-aligned cell cannot be placed with tabs.
  if (padchar_ == '\t') flags_ &= ~kAlignRight;
  Reset();
}

void TabWriter::Reset() {
  buf_.clear();
  pos_ = 0;
  cell_ = Cell{};
  end_char_ = 0;
  lines_.clear();
  widths_.clear();
  AddLine();
}

void TabWriter::AddLine() { lines_.emplace_back(); }

void TabWriter::Append(std::string_view text) {
  buf_.append(text);
  cell_.size += static_cast<int>(text.size());
}

void TabWriter::UpdateWidth() {
  cell_.width += RuneWidth(std::string_view(buf_).substr(pos_));
  pos_ = buf_.size();
}

void TabWriter::StartEscape(char ch) {
  switch (ch) {
    case kEscape: end_char_ = kEscape; break;
    case '<': end_char_ = '>'; break;
    case '&': end_char_ = ';'; break;
    default: break;
  }
}

void TabWriter::EndEscape() {
  switch (end_char_) {
    case kEscape:
      UpdateWidth();
      // Unstripped Escape bytes are in buf_ but take no room on screen.
      if ((flags_ & kStripEscape) == 0) cell_.width -= 2;
      break;
    case '>':  // an HTML tag has width zero
      break;
    case ';':  // an HTML entity counts as one character
      cell_.width++;
      break;
    default: break;
  }
  pos_ = buf_.size();
  end_char_ = 0;
}

int TabWriter::TerminateCell(bool htab) {
  cell_.htab = htab;
  lines_.back().push_back(cell_);
  cell_ = Cell{};
  return static_cast<int>(lines_.back().size());
}

void TabWriter::WritePadding(int textw, int cellw, bool use_tabs) {
  if (padchar_ == '\t' || use_tabs) {
    if (tabwidth_ == 0) return;  // tabs without width cannot pad anything
    // Round the cell up to a tab stop, then emit one tab per tabwidth (rounding up).
    cellw = (cellw + tabwidth_ - 1) / tabwidth_ * tabwidth_;
    const int n = std::max(cellw - textw, 0);
    out_.append(static_cast<size_t>((n + tabwidth_ - 1) / tabwidth_), '\t');
    return;
  }
  if (cellw > textw) out_.append(static_cast<size_t>(cellw - textw), padchar_);
}

size_t TabWriter::WriteLines(size_t pos, size_t line0, size_t line1) {
  for (size_t i = line0; i < line1; ++i) {
    const std::vector<Cell>& line = lines_[i];
    // With kTabIndent, leading empty cells are indentation and are padded with tabs.
    bool use_tabs = (flags_ & kTabIndent) != 0;
    for (size_t j = 0; j < line.size(); ++j) {
      const Cell& c = line[j];
      if (j > 0 && (flags_ & kDebug) != 0) out_.push_back('|');
      if (c.size == 0) {
        if (j < widths_.size()) WritePadding(c.width, widths_[j], use_tabs);
        continue;
      }
      use_tabs = false;
      if ((flags_ & kAlignRight) == 0) {
        out_.append(buf_, pos, static_cast<size_t>(c.size));
        pos += static_cast<size_t>(c.size);
        if (j < widths_.size()) WritePadding(c.width, widths_[j], false);
      } else {
        if (j < widths_.size()) WritePadding(c.width, widths_[j], false);
        out_.append(buf_, pos, static_cast<size_t>(c.size));
        pos += static_cast<size_t>(c.size);
      }
    }
    if (i + 1 == lines_.size()) {
      // The last buffered line has no newline yet: write its pending, unterminated text.
      out_.append(buf_, pos, static_cast<size_t>(cell_.size));
      pos += static_cast<size_t>(cell_.size);
    } else {
      out_.push_back('\n');
    }
  }
  return pos;
}

// Formats lines [line0, line1) whose text starts at buf_[pos0]. Column `widths_.size()` is the
// one being laid out; a block of consecutive lines that have a (tab-terminated) cell in it gets a
// common width, and the columns right of it are laid out recursively within that block.
size_t TabWriter::Format(size_t pos, size_t line0, size_t line1) {
  const size_t column = widths_.size();
  for (size_t cur = line0; cur < line1; ++cur) {
    // The last cell of a line is not tab-terminated and belongs to no column.
    if (column + 1 >= lines_[cur].size()) continue;
    // A line with a cell in this column: print the lines before it, then find the block's end.
    pos = WriteLines(pos, line0, cur);
    line0 = cur;
    int width = minwidth_;
    bool discardable = true;  // all cells empty and soft ('\v'-terminated)
    for (; cur < line1; ++cur) {
      const std::vector<Cell>& line = lines_[cur];
      if (column + 1 >= line.size()) break;
      const Cell& c = line[column];
      width = std::max(width, c.width + padding_);
      if (c.width > 0 || c.htab) discardable = false;
    }
    if (discardable && (flags_ & kDiscardEmptyColumns) != 0) width = 0;
    widths_.push_back(width);
    pos = Format(pos, line0, cur);
    widths_.pop_back();
    line0 = cur;
    // `cur` is the first line after the block; the loop's ++ would skip it, so step back.
    if (cur == line1) break;
    --cur;
  }
  return WriteLines(pos, line0, line1);
}

void TabWriter::FlushInternal() {
  if (cell_.size > 0) {
    if (end_char_ != 0) EndEscape();  // an unfinished escape counts as finished
    TerminateCell(false);
  }
  Format(0, 0, lines_.size());
  Reset();
}

void TabWriter::Write(std::string_view text) {
  size_t n = 0;  // start of the text not yet appended to buf_
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (end_char_ == 0) {
      switch (ch) {
        case '\t':
        case '\v':
        case '\n':
        case '\f': {
          Append(text.substr(n, i - n));
          UpdateWidth();
          n = i + 1;
          const int ncells = TerminateCell(ch == '\t');
          if (ch == '\n' || ch == '\f') {
            AddLine();
            // A one-cell line cannot affect the layout of later lines (its only cell is in no
            // column), so everything so far can be formatted now; '\f' forces that.
            if (ch == '\f' || ncells == 1) {
              FlushInternal();
              if (ch == '\f' && (flags_ & kDebug) != 0) out_.append("---\n");
            }
          }
          break;
        }
        case kEscape:
          Append(text.substr(n, i - n));
          UpdateWidth();
          n = i;
          if ((flags_ & kStripEscape) != 0) ++n;
          StartEscape(kEscape);
          break;
        case '<':
        case '&':
          if ((flags_ & kFilterHTML) != 0) {
            Append(text.substr(n, i - n));
            UpdateWidth();
            n = i;
            StartEscape(ch);
          }
          break;
        default: break;
      }
    } else if (ch == end_char_) {
      size_t j = i + 1;
      if (ch == kEscape && (flags_ & kStripEscape) != 0) j = i;
      Append(text.substr(n, j - n));
      n = i + 1;
      EndEscape();
    }
  }
  Append(text.substr(n));
}

std::string TabWriter::Flush() {
  FlushInternal();
  std::string out;
  out.swap(out_);
  return out;
}

}  // namespace berth::format
