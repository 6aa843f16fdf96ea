//! A YAML document as a small tree that keeps the line of every node, built from yaml-rust2's
//! marked events, so that a pack's errors can say where they are.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub value: Value,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A scalar's text; `plain` when it was not quoted (so `null`, `~` and `` mean nothing).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Element>),
    /// Key/value pairs in document order.
    Map(Vec<(Element, Element)>),
}

impl Element {
    /// Whether the node is YAML's null: an empty, `~` or `null` plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// What the node is, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error: its line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub reason: String,
}

/// Parses the first document of `text`; `None` when there is none.
pub fn parse(text: &str) -> Result<Option<Element>, SyntaxError> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| SyntaxError { line: e.marker().line(), reason: e.info().to_string() })?;
    match builder.error {
        Some(error) => Err(error),
        None => Ok(builder.root),
    }
}

/// A collection being built.
enum Frame {
    Seq { line: usize, anchor: usize, items: Vec<Element> },
    Map { line: usize, anchor: usize, pairs: Vec<(Element, Element)>, key: Option<Element> },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Element>,
    root: Option<Element>,
    error: Option<SyntaxError>,
}

impl Builder {
    /// Adds a finished node to the collection being built, or makes it the root.
    fn push(&mut self, node: Element, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { pairs, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == TScalarStyle::Plain;
                self.push(Element { value: Value::Scalar { text, plain }, line }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq { line, anchor, items: Vec::new() }),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map { line, anchor, pairs: Vec::new(), key: None })
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { line, anchor, items }) => {
                    self.push(Element { value: Value::Seq(items), line }, anchor)
                }
                Some(Frame::Map { line, anchor, pairs, .. }) => {
                    self.push(Element { value: Value::Map(pairs), line }, anchor)
                }
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push(Element { line, ..node }, 0),
                None => {
                    let reason = "an alias refers to an anchor not defined before it".to_string();
                    self.error.get_or_insert(SyntaxError { line, reason });
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str, line: usize) -> Element {
        Element { value: Value::Scalar { text: text.into(), plain: true }, line }
    }

    #[test]
    fn nodes_keep_their_lines_and_aliases_are_expanded() {
        let root = parse("a: &x 1\nb:\n  - c: 2\n    d: *x\n").unwrap().unwrap();
        let Value::Map(pairs) = &root.value else { panic!("a mapping") };
        assert_eq!(pairs[0], (scalar("a", 1), scalar("1", 1)));
        let Value::Seq(items) = &pairs[1].1.value else { panic!("a list") };
        assert_eq!(items[0].line, 3);
        let Value::Map(tag) = &items[0].value else { panic!("a mapping") };
        assert_eq!(tag[1], (scalar("d", 4), scalar("1", 4)));
    }

    #[test]
    fn nulls_are_plain_and_quoted_text_is_not_null() {
        let root = parse("a: ~\nb:\nc: 'null'\n").unwrap().unwrap();
        let Value::Map(pairs) = &root.value else { panic!("a mapping") };
        assert!(pairs[0].1.is_null() && pairs[1].1.is_null());
        assert!(!pairs[2].1.is_null());
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn syntax_errors_give_their_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse("a: 1\n  b: 2\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }
}
