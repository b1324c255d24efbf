"""Step 1 of the C sample: builds a small MLP classifier with graphc's TF1 API and saves its
graph (with the training op and the variables' initializers) to mlp.graph.

    x[?,2] -> 16 tanh -> 3 logits; `probs` (softmax), `loss` (mean sparse cross-entropy),
    `train` (one gradient-descent step)."""

import os
import sys

import graphc as tf


def build():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    w1 = tf.Variable(tf.random_normal([2, 16], stddev=0.5, seed=1), name="w1")
    b1 = tf.Variable(tf.zeros([16]), name="b1")
    h = tf.tanh(tf.matmul(x, w1) + b1)
    w2 = tf.Variable(tf.random_normal([16, 3], stddev=0.5, seed=2), name="w2")
    b2 = tf.Variable(tf.zeros([3]), name="b2")
    logits = tf.add(tf.matmul(h, w2), b2, name="logits")
    tf.nn.softmax(logits, name="probs")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits),
                          name="loss")
    tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")


if __name__ == "__main__":
    build()
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    path = tf.train.write_graph(tf.get_default_graph(), out, "mlp.graph", as_text=False)
    print("wrote", os.path.relpath(path))
